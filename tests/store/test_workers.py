"""The `workers` rows and their leases, on SQLite and PostgreSQL (issue 12: fast takeover)."""

from __future__ import annotations

import os
import subprocess
import sys

from reconciler.jobs.workers import identity, is_alive, process_start
from reconciler.store import Store, queue
from reconciler.store import workers as rows
from reconciler.store.workers import WorkerRow


def _publish(store: Store, *ids: str) -> None:
    with store.write() as tx:
        tx.put(
            {"_id": "rsyncGlobalParameters", "name": "rsyncGlobalParameters", "enableScans": False}
        )
        tx.put({"_id": "hub/hub", "name": "hub", "url": "/srv/hub/"})
        tx.put({"_id": "volume/paris", "name": "paris", "url": "/srv/paris/"})
        for file_id in ids:
            assert tx.insert({"_id": file_id, "origin": "paris", "time": 1, "synced_paris": 1})


def _dead_row(worker_id: str, me: WorkerRow) -> WorkerRow:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its pid names no process now
    return WorkerRow(worker_id, me.host, me.boot_id, gone.pid, 1, 1, 1)


def test_a_dead_owner_on_this_host_loses_its_leases_and_others_keep_theirs(
    store: Store,
) -> None:
    _publish(store, "/a", "/b", "/c")
    me = identity("me", 1_000)
    dead = _dead_row("dead", me)
    rebooted = WorkerRow("rebooted", me.host, "another-boot", os.getpid(), me.proc_start, 1, 1)
    remote = WorkerRow("remote", "elsewhere", "x", 1, 1, 1, 900)
    with store.write() as tx:
        for row in (dead, rebooted, remote):
            rows.register(tx, row)
        assert queue.claim(tx, "hub", ["/a"], "dead", 1_000, 60_000) == ["/a"]
        assert queue.claim(tx, "hub", ["/b"], "rebooted", 1_000, 60_000) == ["/b"]
        assert queue.claim(tx, "hub", ["/c"], "remote", 1_000, 60_000) == ["/c"]
        freed = rows.reclaim_dead(tx, me, is_alive, forget_before=0)
        rows.register(tx, me)
    assert freed == {"dead": 1, "rebooted": 1}
    with store.read() as tx:
        assert rows.held(tx, 2_000) == [rows.Held("remote", 1, 60_000)]
        assert [r.id for r in rows.list_workers(tx)] == ["remote", "me"]


def test_heartbeat_renews_the_workers_leases_and_register_drops_an_earlier_process(
    store: Store,
) -> None:
    _publish(store, "/a", "/b")
    me = identity("w1", 1_000)
    with store.write() as tx:
        rows.register(tx, me)
        queue.claim(tx, "hub", ["/a", "/b"], "w1", 1_000, 5_000)
        assert rows.beat(tx, "w1", now=4_000, lease_until=34_000, jobs="emission:paris") == 2
    with store.read() as tx:
        assert rows.held(tx, 30_000) == [rows.Held("w1", 2, 34_000)]
        (row,) = rows.list_workers(tx)
    assert (row.heartbeat, row.jobs) == (4_000, "emission:paris")
    # the same process registering again (a second session) keeps them ...
    with store.write() as tx:
        assert rows.register(tx, me) == 0
    # ... a new process under the same id (a reused pid) does not
    with store.write() as tx:
        assert rows.register(tx, _dead_row("w1", me)) == 2
    with store.read() as tx:
        assert rows.held(tx, 0) == []


def test_process_start_tells_a_reused_pid_from_the_owner() -> None:
    me = identity("me", 0)
    assert me.proc_start == process_start(os.getpid()) and me.proc_start > 0
    assert is_alive(me)
    assert not is_alive(WorkerRow("x", me.host, me.boot_id, me.pid, me.proc_start + 1, 0, 0))


def test_a_single_run_job_is_claimed_once_per_period_and_freed_with_its_owner(
    store: Store,
) -> None:
    def claim(owner: str, now: int) -> bool:
        with store.write() as tx:
            return rows.claim_job(
                tx, "scan:paris", owner, now=now, period_ms=60_000, until=now + 30_000
            )

    assert claim("a", 0_000)
    assert not claim("b", 1_000)  # held by a
    with store.write() as tx:
        rows.finish_job(tx, "scan:paris", "a")
    assert not claim("b", 2_000)  # free, but it ran less than a period ago
    assert claim("b", 60_000)
    with store.write() as tx:
        rows.release_owner(tx, "b")  # b died: its claim goes with its leases
    assert claim("a", 120_000)
