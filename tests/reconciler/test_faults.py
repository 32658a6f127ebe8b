"""Fault matrix of issue 12 with real components: sshd sites, rsync, a tmpfs, PostgreSQL.

Each case checks the three things a fault must never cost: no `synced_<site>` key without
the same bytes and mtime on that site (no false synced), no file lost or corrupted at its
origin or on any site, and convergence once the fault is gone.

- (5) a destination that is full (a 1 MiB tmpfs mounted on the site's folder) and one that
  refuses writes (the folder made immutable with `chattr +i`: the tests run as root, for
  whom permission bits are no obstacle): the errors are recorded per file with rsync's exit
  code, the other sites are unaffected, everything is delivered once the space (the tmpfs
  remounted larger) and the permission are back.
- (6) a site's sshd stopped mid-batch, its open sessions cut, started again.
- (4) every PostgreSQL connection of the test's database killed with `pg_terminate_backend`
  three times during a pass of two `spctl reconcile` workers: they reconnect, deliver
  everything, and once stopped leave no lease on a file and no claimed job. Marked xfail:
  in about one run in three a worker's job hangs in psycopg after the kill (see its reason).
- (2) three workers on PostgreSQL moving 3,000 files, one SIGKILLed mid-batch: the other two
  finish and every (file, site) lands exactly once but the killed batch's (at most twice),
  counted with inotify (`tests.support.inotify`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from reconciler.store.schema import file_sites, job_claims
from reconciler.store.workers import list_workers
from tests.reconciler.conftest import World, WorldFactory, no_false_synced
from tests.support.inotify import Landings
from tests.support.spctl import kill_worker, lease_counts, reconcile_argv, start_worker
from tests.support.sshd import SshSite

pytestmark = pytest.mark.ssh

SITES = ("london", "tokyo", "rome")


def check_converged(w: World, files: dict[str, bytes], sites: tuple[str, ...]) -> None:
    for file_id, data in files.items():
        doc = w.doc(file_id)
        assert w.path("paris", file_id).read_bytes() == data, file_id  # the origin intact
        for site in ("hub", *sites):
            assert w.path(site, file_id).read_bytes() == data, (file_id, site)
            assert doc[f"synced_{site}"] >= doc["time"], (file_id, site)
            assert f"syncError_{site}" not in doc and f"syncing_{site}" not in doc


def reconcile_until_done(w: World, passes: int = 10) -> None:
    for _ in range(passes):
        if not w.reconcile():
            return
        time.sleep(1.1)  # retryBackoffBase is 1 s here
    raise AssertionError("no convergence")


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)])
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted on this machine")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextmanager
def immutable(path: Path) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)]).returncode:
        pytest.skip("chattr +i is not available on this file system")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_a_full_and_a_read_only_destination_record_errors_and_converge_when_fixed(
    world: WorldFactory,
) -> None:
    w: World = world("paris", *SITES, retryBackoffBase=1, retryBackoffMax=2)
    assert w.reconcile() is False  # first contact: the volume markers are written
    files = {f"/seq/f{i:02d}.dpx": bytes([i]) * 64 * 1024 for i in range(40)}  # 2.5 MiB
    with tmpfs(w.root("london") / "seq", "1m") as full, immutable(w.root("tokyo") / "seq"):
        for file_id, data in files.items():
            w.publish("paris", file_id, data)
        assert w.reconcile() is True
        no_false_synced(w)
        docs = w.docs()
        london = {d.get("syncError_london") for d in docs.values()} - {None}
        tokyo = {d.get("syncError_tokyo") for d in docs.values()} - {None}
        # rsync's codes: 11 (file I/O: no space left), 23 (partial transfer: permission)
        assert london and london <= {11, 12, 23}, london
        assert tokyo == {23}, tokyo
        assert sum("synced_london" in d for d in docs.values()) < len(files)  # it filled up
        assert not any("synced_tokyo" in d for d in docs.values())
        check_converged(w, files, ("rome",))  # the other site is unaffected
        assert w.doc("volume/london")["agentStatus"] == "on"  # a file error, not a site down

        subprocess.run(["mount", "-o", "remount,size=16m", str(full)], check=True)
        subprocess.run(["chattr", "-i", str(w.root("tokyo") / "seq")], check=True)
        reconcile_until_done(w)
        check_converged(w, files, SITES)
        assert no_false_synced(w) == len(files) * (1 + len(SITES))


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (an sshd's per-connection sessions), deepest last."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def stop_sshd_and_its_sessions(site: SshSite) -> None:
    assert site.proc is not None
    sessions = descendants(site.proc.pid)
    site.stop()
    for pid in sessions:  # the test's own sshd's children, by pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_sites_sshd_stopped_mid_batch_records_errors_and_converges_when_back(
    world: WorldFactory,
) -> None:
    w: World = world("paris", "london", "tokyo", retryBackoffBase=1, retryBackoffMax=2)
    assert w.reconcile() is False  # first contact
    # ~4 KiB files, 10 per batch at 40 KiB/s in one stream (parallel streams would each get the
    # limit): about 1 s per batch, so the stop lands mid-batch
    w.volume("london", rsync_args="--bwlimit=40", syncAmountReception=10, parallelStreams=1)
    files = {f"/cut/f{i:02d}.dpx": i.to_bytes(2, "big") * 2048 for i in range(60)}
    for file_id, data in files.items():
        w.publish("paris", file_id, data)
    outcome: list[bool] = []
    passing = threading.Thread(target=lambda: outcome.append(w.reconcile()))
    passing.start()
    deadline = time.monotonic() + 60
    while not any("syncing_london" in d for d in w.docs().values()):
        assert time.monotonic() < deadline and passing.is_alive(), "no batch to london started"
        time.sleep(0.02)
    stop_sshd_and_its_sessions(w.sites["london"])
    passing.join(timeout=120)
    assert outcome == [True]
    docs = w.docs()
    errors = {d["syncError_london"] for d in docs.values() if "syncError_london" in d}
    assert errors and errors <= {12, 20, 30, 35, 255}, errors  # rsync's / ssh's exit codes
    assert sum("synced_london" in d for d in docs.values()) < len(files)
    no_false_synced(w)
    check_converged(w, files, ("tokyo",))  # the other site is unaffected

    w.sites["london"].start()
    w.volume("london", rsync_args="")
    reconcile_until_done(w)
    check_converged(w, files, ("london", "tokyo"))
    assert no_false_synced(w) == len(files) * 3


def synced(w: World, sites: tuple[str, ...]) -> int:
    return sum(f"synced_{s}" in d for d in w.docs().values() for s in sites)


def terminate_backends(url: str) -> int:
    """Kill every connection to the test's own database (not the server's other ones)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            killed = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return int(killed)


def start_workers(
    w: World, env: dict[str, str], n: int, logs: Path
) -> list[subprocess.Popen[bytes]]:
    url = w.store.engine.url.render_as_string(hide_password=False)
    argv = reconcile_argv(url)
    return [start_worker(argv, env, logs / f"worker-{i}.log") for i in range(n)]


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
@pytest.mark.xfail(
    strict=False,
    reason=(
        "open bug found by this test (about 1 run in 3): after pg_terminate_backend a worker's "
        "reception job can hang for ever inside psycopg's wait (Tx.get in reconcile._plan) "
        "while no backend of the database is active; APScheduler then skips _work (max "
        "instances 1) and the heartbeat renews the batch's leases for ever"
    ),
)
def test_postgres_connections_killed_mid_pass_workers_reconnect_and_converge(
    any_world: WorldFactory, store_url: str, tmp_path: Path
) -> None:
    w: World = any_world("paris", "london", heartbeatSeconds=1)
    w.volume("paris", rsync_args="--bwlimit=60", syncAmountEmission=10)
    w.volume("london", rsync_args="--bwlimit=60", syncAmountReception=10)
    files = {f"/pg/f{i:03d}.dpx": i.to_bytes(2, "big") * 2048 for i in range(200)}
    for file_id, data in files.items():
        w.publish("paris", file_id, data)
    env = {**os.environ, "SPCTL_HOME": str(tmp_path)}
    workers = start_workers(w, env, 2, tmp_path)
    try:
        killed = 0
        for target in (20, 120, 250):  # early, mid-pass, late (of 400 deliveries)
            deadline = time.monotonic() + 90
            while synced(w, ("hub", "london")) < target:
                assert time.monotonic() < deadline, f"stuck below {target}"
                time.sleep(0.05)
            killed += terminate_backends(store_url)
            no_false_synced(w)
        assert killed >= 3
        w.volume("paris", rsync_args="")
        w.volume("london", rsync_args="")
        deadline = time.monotonic() + 120
        while synced(w, ("hub", "london")) < 2 * len(files):
            assert time.monotonic() < deadline, f"no convergence: leases {lease_counts(w.store)}"
            assert [p.poll() for p in workers] == [None, None], "a worker died"
            time.sleep(0.2)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=60) for proc in workers]
    assert codes == [0, 0]
    check_converged(w, files, ("london",))
    assert no_false_synced(w) == 2 * len(files)
    assert lease_counts(w.store) == {}
    with w.store.read() as tx:
        assert list_workers(tx) == []
        held = tx.conn.execute(
            sa.select(job_claims.c.id).where(job_claims.c.lease_owner.is_not(None))
        ).all()
    assert held == []  # no job claimed by a worker that is gone


def victim_batch(w: World, victim: str) -> set[tuple[str, str]]:
    c = file_sites.c
    with w.store.read() as tx:
        rows = tx.conn.execute(sa.select(c.file_id, c.site).where(c.lease_owner == victim)).all()
    return {(str(f), str(s)) for f, s in rows}


MANY = 3000


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_three_workers_one_killed_mid_batch_every_copy_moves_exactly_once(
    any_world: WorldFactory, tmp_path: Path
) -> None:
    """Three `spctl reconcile` workers on PostgreSQL move 3,000 files to the hub and a site;
    one is SIGKILLed while it holds a batch. The other two finish. Every (file, site) lands
    exactly once (inotify counts rsync's renames into place), except the killed batch's,
    which land at most twice."""
    w: World = any_world("paris", "london", heartbeatSeconds=1)
    w.volume("paris", syncAmountEmission=100)
    w.volume("london", syncAmountReception=100)
    for root in (w.hub, w.root("london")):
        (root / "many").mkdir(parents=True)
    files = {f"/many/f{i:04d}.dpx": i.to_bytes(2, "big") * 512 for i in range(MANY)}
    for file_id, data in files.items():
        w.write("paris", file_id, data)
    with w.store.write() as tx:
        now = w.clock()
        docs = [
            {"_id": f, "origin": "paris", "time": now, "author": "a", "synced_paris": now}
            for f in files
        ]
        tx.insert_many(docs)
    env = {**os.environ, "SPCTL_HOME": str(tmp_path)}
    with Landings([w.hub / "many", w.root("london") / "many"]) as landed:
        workers = start_workers(w, env, 3, tmp_path)
        victim, survivors = workers[0], workers[1:]
        victim_id = f"{os.uname().nodename}:{victim.pid}"
        try:
            deadline = time.monotonic() + 120
            held: set[tuple[str, str]] = set()
            while not held:  # the batch seen held is kept: it may be released before the kill
                assert time.monotonic() < deadline, "the victim never held a batch mid-pass"
                time.sleep(0.02)
                if synced(w, ("hub", "london")) >= 600:
                    held = victim_batch(w, victim_id)
            kill_worker(victim)
            killed = held | victim_batch(w, victim_id)
            started = time.monotonic()
            while synced(w, ("hub", "london")) < 2 * MANY:
                assert time.monotonic() - started < 300, "the survivors did not finish"
                assert [p.poll() for p in survivors] == [None, None], "a survivor died"
                time.sleep(0.2)
        finally:
            for proc in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            codes = [proc.wait(timeout=60) for proc in survivors]
        time.sleep(0.3)  # the last inotify events
    assert codes == [0, 0]
    assert killed
    check_converged(w, files, ("london",))
    assert no_false_synced(w) == 2 * MANY
    twice = []
    for file_id in files:
        for site in ("hub", "london"):
            count = landed.counts[w.path(site, file_id)]
            if (file_id, site) in killed:
                assert count in (1, 2), (file_id, site, count)
                twice += [(file_id, site)] * (count == 2)
            else:
                assert count == 1, (file_id, site, count)
    assert len(twice) <= len(killed)
