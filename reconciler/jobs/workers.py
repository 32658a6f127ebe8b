"""This reconciler process as a worker of the store: identity, heartbeat, takeover.

A worker is known by its host, the kernel's boot id, its pid and the process's start time
(`/proc/<pid>/stat`), so a pid reused after a crash is not mistaken for the dead owner.
At start it reclaims at once the leases of dead owners on the same host (process gone,
another start time, or another boot) and clears their `syncing_` keys; owners on other
hosts keep theirs until the lease ends (`leaseSeconds`, renewed every `heartbeatSeconds`).
While it runs, a heartbeat thread renews its row and every lease it holds, and takes over
the leases of same-host workers that died meanwhile (so a surviving worker does not wait
for their leases to run out either).
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from reconciler.core.config import SyncConfig
from reconciler.store import Store
from reconciler.store import workers as rows
from reconciler.store.workers import WorkerRow

log = logging.getLogger(__name__)
FORGET_AFTER_MS = 24 * 3600 * 1000  # rows of workers silent for a day leave `spctl status`


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:  # not Linux: same-host owners are then judged by their pid alone
        return ""


def process_start(pid: int) -> int | None:
    """Start time of `pid` in clock ticks after boot, or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return 0
    # the command name (field 2) may hold spaces and parentheses: count after the last ')'
    return int(stat.rsplit(")", 1)[1].split()[19])


def is_alive(row: WorkerRow) -> bool:
    """Whether the process of a worker on this host still runs (and is the same process)."""
    start = process_start(row.pid)
    if start is None:
        return False
    return start == 0 or row.proc_start == 0 or start == row.proc_start


_sessions = itertools.count()


def default_worker_id() -> str:
    """`host:pid`, then `host:pid-2`... for further sessions of the same process."""
    n = next(_sessions)
    return f"{socket.gethostname()}:{os.getpid()}" + (f"-{n + 1}" if n else "")


def identity(worker_id: str, now: int) -> WorkerRow:
    pid = os.getpid()
    return WorkerRow(
        id=worker_id,
        host=socket.gethostname(),
        boot_id=boot_id(),
        pid=pid,
        proc_start=process_start(pid) or 0,
        started=now,
        heartbeat=now,
    )


def lease_ms(cfg: SyncConfig) -> int:
    return cfg.globals.lease_seconds * 1000


def heartbeat_seconds(cfg: SyncConfig) -> float:
    return max(0.1, float(cfg.globals.heartbeat_seconds))


class Worker:
    """The row of this process in `workers`, kept alive by a heartbeat thread."""

    def __init__(self, store: Store, worker_id: str, clock: Callable[[], int]) -> None:
        self.store = store
        self.id = worker_id
        self.clock = clock
        self.me = identity(worker_id, clock())
        self.lease_ms = 30_000
        self.every = 10.0
        self._jobs: dict[str, int] = {}  # running job id -> how many runs
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def configure(self, cfg: SyncConfig) -> None:
        self.lease_ms, self.every = lease_ms(cfg), heartbeat_seconds(cfg)

    def start(self) -> dict[str, int]:
        """Register, reclaim dead same-host owners' leases, start beating; return those freed."""
        with self.store.write() as tx:
            own = rows.register(tx, self.me)
        freed = self.reclaim()
        if own:
            log.info("took over %d leases of an earlier process %s", own, self.id)
            freed[self.id] = own
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()
        return freed

    def running(self, job: str) -> _Running:
        return _Running(self, job)

    def jobs(self) -> str:
        with self._lock:
            return ",".join(sorted(self._jobs))

    def beat(self) -> int:
        now = self.clock()
        with self.store.write() as tx:
            return rows.beat(
                tx, self.id, now=now, lease_until=now + self.lease_ms, jobs=self.jobs()
            )

    def reclaim(self) -> dict[str, int]:
        """Free the leases of dead owners on this host; return owner -> leases freed."""
        now = self.clock()
        with self.store.write() as tx:
            freed = rows.reclaim_dead(tx, self.me, is_alive, forget_before=now - FORGET_AFTER_MS)
        for owner, count in freed.items():
            log.info("took over %d leases of dead worker %s", count, owner)
        return freed

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.beat()
                self.reclaim()
            except Exception:  # the store is away: leases may lapse, claims stay exclusive
                log.exception("worker heartbeat failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            with self.store.write() as tx:
                rows.unregister(tx, self.id)
        except Exception:
            log.exception("could not remove worker %s", self.id)


class _Running:
    """`with worker.running("emission:paris"):` lists the job in the worker's row."""

    def __init__(self, worker: Worker, job: str) -> None:
        self.worker, self.job = worker, job

    def __enter__(self) -> None:
        with self.worker._lock:
            self.worker._jobs[self.job] = self.worker._jobs.get(self.job, 0) + 1

    def __exit__(self, *_exc: object) -> None:
        with self.worker._lock:
            left = self.worker._jobs.get(self.job, 1) - 1
            if left:
                self.worker._jobs[self.job] = left
            else:
                self.worker._jobs.pop(self.job, None)
