"""The configuration documents of a test or bench production, written in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.store import Store, Tx
from tests.support.sshd import SshKeys


def put_production(
    tx: Tx,
    *,
    hub_url: str,
    keys: SshKeys,
    volumes: Mapping[str, str],
    volume_keys: Mapping[str, Any] | None = None,
    **globals_: Any,
) -> None:
    """`rsyncGlobalParameters` (scans off unless `globals_` turn them on), `hub/hub` at
    `hub_url` reaching the sites with `keys`, and `volume/<name>` at each URL of `volumes`
    (each with `volume_keys` too)."""
    tx.put(
        {
            "_id": "rsyncGlobalParameters",
            "name": "rsyncGlobalParameters",
            "enableScans": False,
            **globals_,
        }
    )
    tx.put(
        {
            "_id": "hub/hub",
            "name": "hub",
            "url": hub_url,
            "identityFile": str(keys.identity),
            "knownHosts": str(keys.known_hosts),
        }
    )
    for name, url in volumes.items():
        tx.put({"_id": f"volume/{name}", "name": name, "url": url, **(volume_keys or {})})


def put_hub_and_paris(store_url: str, root: Path) -> None:
    """A bare `hub/hub` and `volume/paris` under `root` (no keys: for reading, not moving)."""
    store = Store.open(store_url)
    with store.write() as tx:
        tx.insert_many(
            [
                {"_id": "hub/hub", "name": "hub", "url": str(root / "hub")},
                {"_id": "volume/paris", "name": "paris", "url": str(root / "paris")},
            ]
        )
    store.close()
