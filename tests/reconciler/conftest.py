"""A small production for reconciler tests: real sshd sites, a hub folder, a store.

`world` builds it: `w = world("paris", "london")` starts one sshd per site, writes the
configuration documents with `Tx.put` (global parameters, hub, volumes), and gives helpers
to publish a file as the API would (`Tx.insert` with origin, time, `synced_<origin>`), run
one reconcile pass, and read documents and files back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.clock import now_ms
from reconciler.core.domain import relpath, synced_key
from reconciler.jobs.scheduler import HubSession, open_session, reconcile_once
from reconciler.services.metrics import Metrics
from reconciler.store import Store
from tests.support.production import put_production
from tests.support.sshd import SshKeys, SshSite

SiteFactory = Callable[[str], SshSite]


@dataclass
class World:
    store: Store
    hub: Path
    keys: SshKeys
    sites: dict[str, SshSite]
    clock: Callable[[], int] = now_ms
    metrics: Metrics = field(default_factory=Metrics)
    sessions: list[HubSession] = field(default_factory=list)

    # ---- configuration ---------------------------------------------------------------

    def configure(self, hub_url: str | None = None, **globals_: Any) -> None:
        volumes = {name: site.url for name, site in self.sites.items()}
        with self.store.write() as tx:
            put_production(
                tx, hub_url=hub_url or f"{self.hub}/", keys=self.keys, volumes=volumes, **globals_
            )

    def volume(self, name: str, **keys: Any) -> None:
        with self.store.write() as tx:
            tx.patch(f"volume/{name}", keys)

    def put(self, doc: dict[str, Any]) -> None:
        with self.store.write() as tx:
            tx.put(doc)

    # ---- files --------------------------------------------------------------------------

    def root(self, site: str) -> Path:
        return self.hub if site == "hub" else self.sites[site].root

    def path(self, site: str, file_id: str) -> Path:
        return self.root(site) / relpath(file_id)

    def write(self, site: str, file_id: str, data: bytes, mtime: int | None = None) -> Path:
        path = self.path(site, file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path

    def publish(
        self, site: str, file_id: str, data: bytes | None = None, **keys: Any
    ) -> dict[str, Any]:
        """Write the file at its origin (unless a package) and track it as the API would."""
        if data is not None:
            self.write(site, file_id, data)
        time = self.clock()
        doc = {
            "_id": file_id,
            "origin": site,
            "time": time,
            "author": "alice",
            "comment": "published",
            synced_key(site): time,
            **keys,
        }
        with self.store.write() as tx:
            assert tx.insert(doc)
        return doc

    def modify(self, file_id: str, data: bytes) -> None:
        """A new version at the origin: new content, new `time` (as a scan would record)."""
        doc = self.doc(file_id)
        self.write(doc["origin"], file_id, data)
        time = max(self.clock(), int(doc["time"]) + 1)
        with self.store.write() as tx:
            tx.patch(file_id, {"time": time, synced_key(doc["origin"]): time})

    def doc(self, node_id: str) -> dict[str, Any]:
        with self.store.read() as tx:
            found = tx.get(node_id)
        assert found is not None, node_id
        return found

    def docs(self) -> dict[str, dict[str, Any]]:
        from reconciler.core.domain import NodeKind

        with self.store.read() as tx:
            return {d["_id"]: d for d in tx.iter_docs(NodeKind.FILE)}

    # ---- reconciling ------------------------------------------------------------------

    def session(self) -> HubSession:
        session = open_session(self.store, metrics=self.metrics, clock=self.clock)
        self.sessions.append(session)
        return session

    def reconcile(self) -> bool:
        """One `reconcile --once` pass with a fresh session; True if errors remain."""
        session = self.session()
        try:
            return reconcile_once(session.rt, scans=False)
        finally:
            session.close()
            self.sessions.remove(session)

    def close(self) -> None:
        for session in self.sessions:
            session.close()


def same_copy(a: Path, b: Path) -> bool:
    """Identical bytes and the same mtime in whole seconds."""
    return a.read_bytes() == b.read_bytes() and int(a.stat().st_mtime) == int(b.stat().st_mtime)


def no_false_synced(w: World) -> int:
    """Assert that every `synced_<site>` key (the hub, every site but the file's origin)
    names a copy identical to the origin's (`same_copy`); return how many there are."""
    count = 0
    for file_id, doc in w.docs().items():
        origin = doc["origin"]
        for site in ("hub", *w.sites):
            if site != origin and synced_key(site) in doc:
                assert same_copy(w.path(origin, file_id), w.path(site, file_id)), (file_id, site)
                count += 1
    return count


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.close()


def _world_factory(
    store: Store, tmp_path: Path, ssh_keys: SshKeys, ssh_site: Callable[[str], SshSite]
) -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(*names: str, configure: bool = True, **globals_: Any) -> World:
        hub = tmp_path / "hub"
        hub.mkdir(exist_ok=True)
        w = World(store=store, hub=hub, keys=ssh_keys, sites={n: ssh_site(n) for n in names})
        if configure:
            w.configure(**globals_)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.fixture
def world(
    sqlite_store: Store, tmp_path: Path, ssh_keys: SshKeys, ssh_site: Callable[[str], SshSite]
) -> Iterator[Callable[..., World]]:
    """Factory of a production on SQLite (most tests)."""
    yield from _world_factory(sqlite_store, tmp_path, ssh_keys, ssh_site)


@pytest.fixture
def any_world(
    store: Store, tmp_path: Path, ssh_keys: SshKeys, ssh_site: Callable[[str], SshSite]
) -> Iterator[Callable[..., World]]:
    """Factory of a production on each store backend (SQLite and PostgreSQL)."""
    yield from _world_factory(store, tmp_path, ssh_keys, ssh_site)


WorldFactory = Callable[..., World]
