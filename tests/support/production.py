"""The configuration documents of a test or bench production, written in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.store import Tx
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
