"""A production in a test: a store, a local hub directory and real sshd volumes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from reconciler.jobs.runtime import Runtime
from reconciler.jobs.scan import ScanReport, scan_volume
from reconciler.services.metrics import Metrics
from reconciler.store import Store
from reconciler.store.schema import file_sites
from reconciler.transport.shells import LocalShell
from reconciler.transport.ssh import SshSettings
from tests.support.sshd import SshKeys, SshSite, client_options


@dataclass
class World:
    store: Store
    keys: SshKeys
    hub: Path
    make_site: Callable[[str], SshSite]
    sites: dict[str, SshSite] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rt = Runtime(
            store=self.store,
            shell=LocalShell(),
            ssh=SshSettings(str(self.keys.identity), str(self.keys.known_hosts)),
            metrics=Metrics(),
        )
        self.put({"_id": "hub/hub", "name": "hub", "url": f"{self.hub}/",
                  "identityFile": str(self.keys.identity),
                  "knownHosts": str(self.keys.known_hosts)})  # fmt: skip

    def put(self, *docs: dict[str, Any]) -> None:
        with self.store.write() as tx:
            tx.put_many(list(docs))

    def globals(self, **values: Any) -> None:
        self.put({"_id": "rsyncGlobalParameters", **values})

    def volume(self, name: str, **values: Any) -> SshSite:
        site = self.sites.get(name) or self.make_site(name)
        self.sites[name] = site
        self.put({"_id": f"volume/{name}", "name": name, "url": site.url, **values})
        return site

    def scan(self, name: str, **options: bool) -> ScanReport:
        return scan_volume(self.rt, name, **options)

    def doc(self, node_id: str) -> dict[str, Any] | None:
        with self.store.read() as tx:
            return tx.get(node_id)

    def files(self) -> dict[str, dict[str, Any]]:
        with self.store.read() as tx:
            return {d["_id"]: d for d in tx.iter_docs() if d["_id"].startswith("/")}

    def snapshot(self) -> tuple[dict[str, dict[str, Any]], list[tuple[Any, ...]]]:
        """Every file document and every derived row: to prove that nothing changed."""
        with self.store.read() as tx:
            rows = tx.conn.execute(sa.select(file_sites).order_by("file_id", "site")).all()
        return self.files(), [tuple(r) for r in rows]


@pytest.fixture
def world(
    store: Store, ssh_keys: SshKeys, ssh_site: Callable[[str], SshSite], tmp_path: Path
) -> Iterator[World]:
    hub = tmp_path / "hub"
    hub.mkdir()
    yield World(store, ssh_keys, hub, ssh_site)


def write(path: Path, data: bytes | str = b"x", mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def rsync_copy(keys: SshKeys, src: SshSite, dst: SshSite, rel: str) -> None:
    """Copy one file between two sites like a delivery does (rsync -a keeps the mtime)."""
    tmp = dst.dir / "incoming"
    tmp.mkdir(exist_ok=True)
    rsh = " ".join(["ssh", *client_options(keys), "-p", str(src.port)])
    subprocess.run(
        ["rsync", "-a", "--protect-args", "-e", rsh,
         f"{src.user}@127.0.0.1:{src.root}/{rel}", str(tmp / "f")],
        check=True,
    )  # fmt: skip
    target = dst.root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp / "f", target)
