"""The embedded default: `spctl run --demo` with a local hub and demo volumes.

The demo applies `manifests/demo/` (hub and volumes are folders under SPCTL_HOME/demo),
so files travel between local folders through the hub with the same code as over SSH.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from reconciler.core.clock import now_ms
from reconciler.core.domain import synced_key
from reconciler.jobs.scheduler import open_session, reconcile_once
from reconciler.services.demo import setup_demo
from reconciler.services.metrics import Metrics
from reconciler.store import Store
from tests.support.servers import free_port, server_process
from tests.support.spctl import SPCTL


def publish(store: Store, folder: Path, origin: str, file_id: str, data: bytes) -> None:
    path = folder / file_id.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    time_ = now_ms()
    with store.write() as tx:
        tx.insert(
            {
                "_id": file_id,
                "origin": origin,
                "time": time_,
                "author": "alice",
                synced_key(origin): time_,
            }
        )


def test_setup_demo_creates_the_folders_and_applies_the_manifests(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'demo.db'}")
    try:
        first = setup_demo(store, tmp_path, {"SPCTL_DEMO_BOB_PASSWORD": "from-env"})
        assert "hub/hub created" in first.applied
        assert "volume/paris created" in first.applied
        assert set(first.folders) == {"hub", "paris", "london", "montreal"}
        assert all(p.is_dir() and tmp_path / "demo" in p.parents for p in first.folders.values())
        assert set(first.credentials) == {"alice"}  # bob's comes from the environment
        kept = json.loads((tmp_path / "demo" / "credentials.json").read_text())
        assert kept == {"alice": first.credentials["alice"]}

        again = setup_demo(store, tmp_path, {"SPCTL_DEMO_BOB_PASSWORD": "from-env"})
        assert all(line.endswith(" unchanged") for line in again.applied)
        assert again.credentials == first.credentials

        folders = first.folders
        publish(store, folders["paris"], "paris", "/assets/chair.obj", b"chair")
        publish(store, folders["paris"], "paris", "/renders/sh010.exr", b"render")
        session = open_session(store, metrics=Metrics())
        try:
            assert reconcile_once(session.rt, scans=False) is False
        finally:
            session.close()
        # SyncTarget `assets`: everywhere; `renders`: paris and london
        for site in ("hub", "london", "montreal"):
            assert (folders[site] / "assets" / "chair.obj").read_bytes() == b"chair"
        assert (folders["london"] / "renders" / "sh010.exr").read_bytes() == b"render"
        assert not (folders["montreal"] / "renders").exists()

        # a file simply copied into a demo folder is found by the scan and travels
        (folders["london"] / "assets" / "table.obj").write_bytes(b"table")
        session = open_session(store, metrics=Metrics())
        try:
            assert reconcile_once(session.rt) is False
        finally:
            session.close()
        for site in ("hub", "paris", "montreal"):
            assert (folders[site] / "assets" / "table.obj").read_bytes() == b"table"
        with store.read() as tx:
            found = tx.get("/assets/table.obj")
        assert found is not None and found["origin"] == "london"
    finally:
        store.close()


def test_spctl_run_demo_serves_the_api_and_moves_a_published_file(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SPCTL_HOME": str(tmp_path)}
    env.pop("SPCTL_DB", None)
    command = [*SPCTL, "run", "--demo", "--port", str(port), "--log-level", "warning"]
    with server_process(
        command, port=port, logs=tmp_path, name="spctl-run", env=env, merge_output=False,
        ready="/openapi.json",
    ) as server:  # fmt: skip
        store = Store.open(f"sqlite:///{tmp_path / 'syncplanet.db'}")
        try:
            paris = tmp_path / "demo" / "volumes" / "paris"
            publish(store, paris, "paris", "/assets/lamp.obj", b"lamp")
            target = tmp_path / "demo" / "volumes" / "montreal" / "assets" / "lamp.obj"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not target.exists():
                time.sleep(0.2)
            assert target.read_bytes() == b"lamp"
        finally:
            store.close()
    assert server.returncode == 0, server.stderr()
    assert "volume/paris created" in server.stdout()
    assert "demo user alice: password " in server.stdout()
