"""Fast takeover (issue 12): a worker SIGKILLed mid-pass is replaced within seconds.

`spctl reconcile` moves a few hundred small files to real sshd sites, slowed with a user
rsync option so the kill lands while batches are leased and marked `syncing_`. The whole
process group is killed. A new `spctl reconcile --once` on the same host sees the dead
owner's row (its pid gone), takes its leases over at once instead of waiting `leaseSeconds`
(left at its default, 30 s), clears the stale `syncing_` keys and delivers everything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from reconciler.store.workers import list_workers
from tests.reconciler.conftest import World, WorldFactory, no_false_synced
from tests.support.spctl import (
    kill_worker,
    kill_worker_when,
    lease_counts,
    reconcile_argv,
    start_worker,
)

pytestmark = pytest.mark.ssh

FILES = 300


def test_a_restart_on_the_same_host_takes_a_killed_workers_leases_over_at_once(
    world: WorldFactory, tmp_path: Path
) -> None:
    w: World = world("paris", "london")  # leaseSeconds and heartbeatSeconds: the defaults
    # ~4 KiB files, 20 per batch, 40 KiB/s: about 2 s per batch, so the kill lands mid-batch
    w.volume("paris", rsync_args="--bwlimit=40", syncAmountEmission=20)
    w.volume("london", rsync_args="--bwlimit=40", syncAmountReception=20)
    files = [f"/seq/f{i:03d}.dpx" for i in range(FILES)]
    for i, file_id in enumerate(files):
        w.publish("paris", file_id, i.to_bytes(2, "big") * 2048)
    env = {**os.environ, "SPCTL_HOME": str(tmp_path)}
    argv = reconcile_argv(str(w.store.engine.url))

    def mid_batch() -> bool:
        docs = list(w.docs().values())
        return sum("synced_hub" in d for d in docs) >= 20 and any("syncing_hub" in d for d in docs)

    first = kill_worker_when(argv, env, mid_batch)

    held = lease_counts(w.store)
    dead = f"{os.uname().nodename}:{first.pid}"
    assert set(held) == {dead}, held  # the killed worker still holds its batches
    with w.store.read() as tx:
        assert [r.id for r in list_workers(tx)] == [dead]
    assert any("syncing_hub" in d for d in w.docs().values())
    no_false_synced(w)

    w.volume("paris", rsync_args="")
    w.volume("london", rsync_args="")
    started = time.monotonic()
    done = subprocess.run([*argv, "--once"], env=env, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    assert (done.returncode, done.stdout) == (0, "reconcile: done, nothing left that can move\n"), (
        done.stderr
    )
    assert took < 25, took  # well before the dead worker's 30 s leases would have lapsed
    assert no_false_synced(w) == 2 * FILES
    for doc in w.docs().values():
        assert not [k for k in doc if k.startswith(("syncing_", "syncError_"))], doc
    assert lease_counts(w.store) == {}
    with w.store.read() as tx:
        assert list_workers(tx) == []  # the dead row taken over, the --once row removed


def _synced_hub(w: World) -> int:
    return sum("synced_hub" in d for d in w.docs().values())


def test_killed_at_three_moments_each_restart_resumes_within_seconds(
    world: WorldFactory, tmp_path: Path
) -> None:
    """The loop (`spctl reconcile`) is killed three times at different points of a 300-file
    pass; after each restart the dead worker's leases are gone and files move again within
    `heartbeatSeconds` + 5 s, not after `leaseSeconds`."""
    w: World = world("paris", "london")
    w.volume("paris", rsync_args="--bwlimit=60", syncAmountEmission=20)
    w.volume("london", rsync_args="--bwlimit=60", syncAmountReception=20)
    for i in range(FILES):
        w.publish("paris", f"/seq/g{i:03d}.dpx", i.to_bytes(2, "big") * 2048)
    env = {**os.environ, "SPCTL_HOME": str(tmp_path)}
    argv = reconcile_argv(str(w.store.engine.url))

    proc = start_worker(argv, env)
    try:
        for target in (1, 80, 180):  # just after a claim, mid-pass, late in the pass
            deadline = time.monotonic() + 60
            while _synced_hub(w) < target and time.monotonic() < deadline:
                time.sleep(0.02)
            kill_worker(proc)
            no_false_synced(w)
            before, dead = _synced_hub(w), proc.pid
            proc = start_worker(argv, env)
            restarted = time.monotonic()
            while _synced_hub(w) <= before:  # heartbeatSeconds (10) + 5 s at most
                assert time.monotonic() - restarted < 10 + 5, "delivery did not resume"
                time.sleep(0.05)
            assert not [o for o in lease_counts(w.store) if o.endswith(f":{dead}")]
    finally:
        kill_worker(proc)
    w.volume("paris", rsync_args="")
    w.volume("london", rsync_args="")
    done = subprocess.run([*argv, "--once"], env=env, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "reconcile: done, nothing left that can move\n")
    assert no_false_synced(w) == 2 * FILES


def test_a_surviving_worker_takes_a_killed_neighbours_leases_over(
    any_world: WorldFactory, tmp_path: Path
) -> None:
    """Two `spctl reconcile` workers on one store (SQLite, PostgreSQL); one is SIGKILLed
    mid-batch. The survivor is not restarted: its heartbeat (1 s here) sees the dead
    neighbour and frees its leases within seconds (they would last 30 s), and it finishes."""
    w: World = any_world("paris", "london", heartbeatSeconds=1)
    w.volume("paris", rsync_args="--bwlimit=60", syncAmountEmission=10)
    w.volume("london", rsync_args="--bwlimit=60", syncAmountReception=10)
    files = [f"/two/h{i:03d}.dpx" for i in range(150)]
    for i, file_id in enumerate(files):
        w.publish("paris", file_id, i.to_bytes(2, "big") * 2048)
    env = {**os.environ, "SPCTL_HOME": str(tmp_path)}
    argv = reconcile_argv(str(w.store.engine.url))
    procs = [start_worker(argv, env) for _ in range(2)]
    victim, survivor = procs
    try:
        deadline = time.monotonic() + 60
        while not any(o.endswith(f":{victim.pid}") for o in lease_counts(w.store)):
            assert time.monotonic() < deadline, "the victim never held a batch"
            time.sleep(0.02)
        kill_worker(victim)
        killed = time.monotonic()
        while any(o.endswith(f":{victim.pid}") for o in lease_counts(w.store)):
            assert time.monotonic() - killed < 1 + 5, "the survivor did not take over"
            time.sleep(0.05)
        w.volume("paris", rsync_args="")
        w.volume("london", rsync_args="")
        deadline = time.monotonic() + 90
        while no_false_synced(w) < 2 * len(files):
            assert time.monotonic() < deadline, "the survivor did not finish"
            time.sleep(0.2)
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(timeout=60)
    assert survivor.returncode == 0
    for doc in w.docs().values():
        assert not [k for k in doc if k.startswith(("syncing_", "syncError_"))], doc
