"""Tracker data shared by the observability tests: a hub, three volumes, a few files."""

from __future__ import annotations

from typing import Any

from reconciler.store import Store

NOW = 1_800_000_000_000  # ms; every test uses this fixed clock
MIN = 60_000

CONFIG: list[dict[str, Any]] = [
    {"_id": "rsyncGlobalParameters", "name": "rsyncGlobalParameters", "syncEverywhere": True},
    {"_id": "hub/hub", "name": "hub", "url": "/srv/hub/"},
    {
        "_id": "volume/paris",
        "name": "paris",
        "url": "/srv/paris/",
        "lastConnectionAttempt": NOW - MIN,
        "lastConnectionSuccess": NOW - MIN,
        "last_scan": NOW - 2 * MIN,
        "last_emission": NOW - 3 * MIN,
    },
    {
        "_id": "volume/tokyo",
        "name": "tokyo",
        "url": "/srv/tokyo/",
        "lastConnectionAttempt": NOW - MIN,
        "lastConnectionSuccess": NOW - MIN,
        "last_reception": NOW - 4 * MIN,
    },
    {"_id": "volume/london", "name": "london", "url": "/srv/london/", "enableReception": False},
    {
        "_id": "synctarget/renders",
        "name": "renders",
        "paths": ["/renders/**"],
        "sites": ["paris"],
        "excludeSites": ["tokyo"],
        "priority": 5,
    },
]


def seed(store: Store, *files: dict[str, Any], config: list[dict[str, Any]] | None = None) -> None:
    with store.write() as tx:
        tx.put_many(CONFIG if config is None else config)
        tx.insert_many(list(files))
