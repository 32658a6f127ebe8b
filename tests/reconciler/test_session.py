"""The hub session under concurrency (issue 12): a connection in use is never closed under a job.

The hub is remote (`ssh://`, a Fabric connection to its own sshd). Jobs on real threads hold
a runtime while the Hub object changes (its knownHosts moves to another file with the same
keys), so `HubSession.refresh` opens a new connection: the old one must keep working until
its last job lets go, and be closed (its ControlMaster folder removed) only then.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.jobs.reconcile import emit
from reconciler.jobs.session import HubSession
from reconciler.transport.shells import FabricShell
from tests.reconciler.conftest import SiteFactory, World, WorldFactory, same_copy

pytestmark = pytest.mark.ssh


def _remote_hub(world: WorldFactory, ssh_site: SiteFactory) -> World:
    w: World = world("paris", configure=False)
    hubhost = ssh_site("hubhost")
    w.hub = hubhost.root
    w.configure(hub_url=hubhost.url)
    return w


def _move_known_hosts(w: World, tmp_path: Path, n: int) -> None:
    """A Hub change that needs a new connection (same keys, another file)."""
    copy = tmp_path / f"known_hosts.{n}"
    shutil.copy(w.keys.known_hosts, copy)
    with w.store.write() as tx:
        tx.patch("hub/hub", {"knownHosts": str(copy)})


def _refresh(w: World, session: HubSession) -> None:
    with w.store.read() as tx:
        cfg = tx.config()
    session.refresh(cfg)


def test_a_job_keeps_its_hub_connection_across_a_refresh_and_it_closes_after(
    world: WorldFactory, ssh_site: SiteFactory, tmp_path: Path
) -> None:
    w = _remote_hub(world, ssh_site)
    w.publish("paris", "/a.exr", b"a" * 4096)
    session = w.session()
    entered, go, done = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def job() -> None:
        with session.runtime() as rt:
            seen["rt"] = rt
            entered.set()
            go.wait(30)
            seen["result"] = emit(rt, "paris")  # rsync run on the hub host through Fabric
        done.set()

    thread = threading.Thread(target=job)
    thread.start()
    assert entered.wait(30)
    old = seen["rt"]
    assert isinstance(old.shell, FabricShell)
    control_dir = Path(old.ssh.control_dir)
    assert control_dir.is_dir()

    _move_known_hosts(w, tmp_path, 1)
    _refresh(w, session)
    assert session.rt is not old and session.rt.shell is not old.shell
    assert control_dir.is_dir()  # still in use: nothing closed
    go.set()
    thread.join(60)
    assert done.is_set()
    assert seen["result"].delivered == 1
    assert same_copy(w.path("paris", "/a.exr"), w.path("hub", "/a.exr"))
    assert not control_dir.exists()  # the last user let go: closed and removed
    with session.runtime() as rt:
        assert rt.shell.run(["true"]).exit_code == 0


def test_jobs_on_many_threads_never_see_their_shell_closed_while_the_hub_changes(
    world: WorldFactory, ssh_site: SiteFactory, tmp_path: Path
) -> None:
    w = _remote_hub(world, ssh_site)
    session = w.session()
    stop = threading.Event()
    failures: list[str] = []
    runs = [0]
    lock = threading.Lock()

    def worker() -> None:
        while not stop.is_set():
            try:
                with session.runtime() as rt:
                    done = rt.shell.run(["sh", "-c", "sleep 0.05; echo ok"], timeout=30)
                    if (done.exit_code, done.stdout) != (0, b"ok\n"):
                        failures.append(f"{done.exit_code} {done.stderr_text}")
            except Exception as exc:  # a closed connection shows up as an exception here
                failures.append(repr(exc))
            with lock:
                runs[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for n in range(8):
            _move_known_hosts(w, tmp_path, n)
            _refresh(w, session)
            threading.Event().wait(0.15)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert failures == []
    assert runs[0] >= 8
    current = Path(session.rt.ssh.control_dir)
    assert current.is_dir()
    session.close()
    assert not current.exists()
