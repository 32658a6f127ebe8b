"""The store's bulk path for new files writes exactly what `Tx.insert_many` writes."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from reconciler.store import Store
from reconciler.store.bulk import insert_new_files
from reconciler.store.schema import file_sites, nodes, site_counts

CONFIG: list[dict[str, Any]] = [
    {"_id": "hub/hub", "name": "hub", "url": "/srv/hub/"},
    {"_id": "volume/paris", "name": "paris", "url": "/srv/paris/"},
    {"_id": "volume/tokyo", "name": "tokyo", "url": "/srv/tokyo/", "propagateDeletions": True},
    {"_id": "volume/farm", "name": "farm", "url": "/srv/farm/", "enableReception": False},
    {"_id": "synctarget/renders", "name": "renders", "paths": ["/renders/**"],
     "sites": ["tokyo"], "priority": 5},
    {"_id": "rsyncGlobalParameters", "syncEverywhere": False},
]  # fmt: skip


def docs() -> list[dict[str, Any]]:
    base = {"origin": "paris", "comment": "scanned at paris", "author": "support",
            "time": 1000, "synced_paris": 1000}  # fmt: skip
    out = [{"_id": f"/renders/r{i}.exr", **base, "file_size": i, "file_mtime": i} for i in range(5)]
    out += [{"_id": f"/edit/e{i}.mov", **base, "file_size": 10 * i} for i in range(5)]
    out += [
        {"_id": "/edit/everywhere.mov", **base, "syncEverywhere": True},
        {"_id": "/edit/gone.mov", **base, "deleted": True, "synced_tokyo": 900},
        {"_id": "/edit/tags.mov", **base, "tags": ["a", "b"], "sync_tokyo": True},  # unhashable
        {"_id": "/edit/err.mov", **base, "syncError_tokyo": 23, "syncLastAttempt_tokyo": 990},
    ]
    return out


def state(store: Store) -> tuple[list[Any], ...]:
    with store.read() as tx:
        return tuple(
            [tuple(r) for r in tx.conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
            for t in (nodes, file_sites, site_counts)
        )


@pytest.mark.parametrize("preexisting", [False, True])
def test_bulk_path_matches_insert_many(store_url: str, tmp_path: Any, preexisting: bool) -> None:
    slow = Store.open(f"sqlite:///{tmp_path / 'reference.db'}")
    fast = Store.open(store_url)
    for s in (slow, fast):
        with s.write() as tx:
            tx.put_many(CONFIG)
            if preexisting:
                tx.insert({"_id": "/edit/e3.mov", "origin": "tokyo", "time": 5})
    with slow.write() as tx:
        expected = tx.insert_many(docs() + docs()[:2])
    with fast.write() as tx:
        assert insert_new_files(tx, docs() + docs()[:2]) == expected
    assert expected.count(False) == 2 + preexisting
    assert state(fast) == state(slow)  # documents (as dicts), derived rows and counts
    with fast.read() as tx:
        assert tx.get("/edit/tags.mov") == docs()[12]
    slow.close()
    fast.close()


def test_bulk_path_takes_files_only(store: Store) -> None:
    with store.write() as tx, pytest.raises(ValueError):
        insert_new_files(tx, [{"_id": "volume/x"}])
