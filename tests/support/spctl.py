"""`spctl` as the tests run it in a child process (a worker killed with its children, too),
and what the tests read of its leases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import sqlalchemy as sa

from reconciler.store import Store
from reconciler.store.schema import file_sites

# The CLI through this interpreter (the venv's entry script may be absent in a bare checkout).
SPCTL = [sys.executable, "-c", "from spctl import main; main()"]


def reconcile_argv(store_url: str, *extra: str) -> list[str]:
    """`spctl reconcile` on the store at `store_url`, logging warnings only."""
    return [*SPCTL, "reconcile", "--db", store_url, "--log-level", "warning", *extra]


def start_worker(
    argv: Sequence[str], env: Mapping[str, str], log: Path | None = None
) -> subprocess.Popen[bytes]:
    """`argv` (a `spctl reconcile`) in a process group of its own, so that `kill_worker`
    takes its rsync and ssh children down with it; its output in `log`, or discarded."""
    if log is None:
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    with log.open("wb") as out:
        return subprocess.Popen(
            list(argv), env=dict(env), start_new_session=True, stdout=out, stderr=subprocess.STDOUT
        )


def kill_worker(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker's whole process group (nothing gets to clean up) and reap it."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def kill_worker_when(
    argv: Sequence[str], env: Mapping[str, str], when: Callable[[], bool], timeout: float = 60
) -> subprocess.Popen[bytes]:
    """Start a worker (`start_worker`) and kill it (`kill_worker`) as soon as `when()` holds,
    or after `timeout` seconds; the killed process."""
    proc = start_worker(argv, env)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not when():
            time.sleep(0.05)
    finally:
        kill_worker(proc)
    return proc


def lease_counts(store: Store) -> dict[str, int]:
    """How many (file, site) rows each worker holds a lease on."""
    c = file_sites.c
    with store.read() as tx:
        rows = tx.conn.execute(
            sa.select(c.lease_owner, sa.func.count())
            .where(c.lease_owner.is_not(None))
            .group_by(c.lease_owner)
        )
        return {str(owner): int(n) for owner, n in rows}
