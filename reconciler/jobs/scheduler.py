"""Driving the reconcile jobs: one pass (`reconcile_once`), and APScheduler.

The hub connection and this worker's row live in `reconciler.jobs.session` (re-exported here).
`reconcile_once` runs scans, then emissions and receptions of every volume in parallel
until nothing that can move is pending; `leftover` says what is still pending and why
(leased by another worker, waiting for a retry). `Scheduler` (APScheduler 3.x) keeps, per
enabled volume, an emission, a reception and (with discovery) a scan job, each
`max_instances=1` with jitter, and follows configuration changes by re-reading it.
Scans, deletion propagation, trash purge and digests are claimed once per period across
workers (`job_claims`, `Scheduler._claimed`). Every job run is counted by kind and outcome
(`syncplanet_job_runs_total`), and
`reconcile_last_success` moves only when a pass or a transfer job completes without error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.core.config import SyncConfig
from reconciler.jobs.notify import notify_pass
from reconciler.jobs.reconcile import JobResult, clean_stale_syncing, emit, purge_trash, receive
from reconciler.jobs.runs import JobKind, Outcome, Run, declare, job_run
from reconciler.jobs.runtime import Runtime
from reconciler.jobs.session import HubSession, open_session
from reconciler.store import Store, queue
from reconciler.store import workers as worker_rows

if TYPE_CHECKING:  # imported by `Scheduler` only: `reconcile --once` runs without APScheduler
    from apscheduler.schedulers.background import BackgroundScheduler

__all__ = ["HubSession", "Scheduler", "leftover", "open_session", "reconcile_once"]

log = logging.getLogger(__name__)
Job = Callable[..., JobResult]
MAX_ROUNDS = 100


# ---- one pass ----------------------------------------------------------------------------


def _scan(rt: Runtime, volume: str, run: Run) -> None:
    """Discovery on one volume (imported here: only volumes with discovery need it)."""
    from reconciler.jobs.scan import ScanStatus, scan_volume

    if scan_volume(rt, volume).status is ScanStatus.FAILED:
        run.fail()


def _delete(rt: Runtime, volume: str, run: Run) -> None:
    """Move copies of files deleted at their origin to this volume's trash."""
    from reconciler.jobs.deletions import propagate_deletions

    propagate_deletions(rt, volume)


def deleting_volumes(cfg: SyncConfig) -> list[str]:
    """Volumes that mirror deletions (whether or not they are scanned themselves)."""
    return [n for n, v in cfg.volumes.items() if v.enabled and v.propagate_deletions]


def scanned_volumes(cfg: SyncConfig) -> list[str]:
    if not cfg.globals.enable_scans:
        return []
    return [n for n, v in cfg.volumes.items() if v.enabled and v.enable_discovery]


def errors_remain(store: Store) -> bool:
    with store.read() as tx:
        return any(c.files.get("error", 0) > 0 for c in queue.counts(tx).values())


def _one(rt: Runtime, kind: JobKind, volume: str, act: Callable[[Runtime, str, Run], None]) -> bool:
    """One counted run of a single-run job; True if it raised."""
    with job_run(rt.metrics, kind, volume) as run:
        act(rt, volume, run)
    return run.outcome is Outcome.ERROR


class _Pass:
    """Emission and reception of every volume in parallel, until nothing moves."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.lock = threading.Lock()
        self.landed = threading.Condition(self.lock)  # an emission batch reached the hub
        self.batches = 0  # emission batches done so far (under `lock`)
        self.probed: set[str] = set()  # volumes tried once already in this pass
        self.emitting = 0
        self.raised = False  # a job raised: the pass is not complete

    def _run(self, job: Job, volume: str, run: Run) -> JobResult:
        with self.lock:
            first = volume not in self.probed
        result = job(self.rt, volume, ignore_volume_backoff=first)
        if result.exit_code is not None:
            with self.lock:
                self.probed.add(volume)
        if result.exit_code and not result.delivered:
            run.fail()
        return result

    def _counted(self, kind: JobKind, volume: str, loop: Callable[[Run], int]) -> int:
        moved = 0
        with job_run(self.rt.metrics, kind, volume) as run:
            moved = loop(run)
        if run.outcome is Outcome.ERROR:
            self.raised = True
        return moved

    def emissions(self, volume: str) -> int:
        def loop(run: Run) -> int:
            moved = 0
            while True:
                result = self._run(emit, volume, run)
                moved += result.planned
                with self.landed:
                    self.batches += 1
                    self.landed.notify_all()
                if not result.more:
                    return moved

        try:
            return self._counted(JobKind.EMISSION, volume, loop)
        finally:
            with self.landed:
                self.emitting -= 1
                self.landed.notify_all()

    def receptions(self, volume: str) -> int:
        def loop(run: Run) -> int:
            moved = 0
            while True:
                with self.lock:
                    seen = self.batches
                result = self._run(receive, volume, run)
                moved += result.planned
                if result.skipped:
                    return moved
                if result.more:
                    continue
                with self.landed:
                    emitting = self.emitting
                    if emitting and not result.planned and self.batches == seen:
                        # files reach the hub meanwhile: wait for the next batch to land
                        self.landed.wait(timeout=5.0)
                if emitting:
                    continue
                if not result.planned:
                    return moved

        return self._counted(JobKind.RECEPTION, volume, loop)

    def round(self, volumes: list[str]) -> int:
        self.emitting = len(volumes)
        with ThreadPoolExecutor(max_workers=max(2, 2 * len(volumes))) as pool:
            futures = [pool.submit(self.emissions, v) for v in volumes]
            futures += [pool.submit(self.receptions, v) for v in volumes]
            return sum(f.result() for f in futures)


def reconcile_once(rt: Runtime, *, scans: bool = True) -> bool:
    """Scan, emit and receive until nothing that can move is pending; True if errors remain.

    Per-file backoff is honoured; a volume marked unreachable is tried once at once (it may
    answer again), then waits for its backoff. A job that raises is counted and makes the
    pass incomplete (errors remain, `reconcile_last_success` unchanged).
    """
    declare(rt.metrics)
    clean_stale_syncing(rt, everything=True)
    with rt.store.read() as tx:
        cfg = tx.config()
    for site in cfg.sites:
        rt.metrics.declare_site(site)
    raised: list[bool] = []
    if scans:
        to_scan = scanned_volumes(cfg)
        with ThreadPoolExecutor(max_workers=max(1, len(to_scan))) as pool:
            raised += pool.map(lambda n: _one(rt, JobKind.SCAN, n, _scan), to_scan)
    # after every scan: a deletion found at one origin reaches every mirroring volume now
    to_delete = deleting_volumes(cfg)
    with ThreadPoolExecutor(max_workers=max(1, len(to_delete))) as pool:
        raised += pool.map(lambda n: _one(rt, JobKind.DELETIONS, n, _delete), to_delete)
    with ThreadPoolExecutor(max_workers=1) as side:
        purge = side.submit(_purge, rt)  # its own SSH lane: runs beside the transfers
        one = _Pass(rt)
        volumes = list(cfg.volumes)
        for _ in range(MAX_ROUNDS):  # bound: a zero backoff would make failures due at once
            if not volumes or not one.round(volumes):
                break
        raised += [purge.result(), one.raised]
    with job_run(rt.metrics, JobKind.NOTIFY) as run:
        notify_pass(rt)
    raised.append(run.outcome is Outcome.ERROR)
    if not any(raised):
        rt.metrics.reconcile_last_success.set(time.time())
    return errors_remain(rt.store) or any(raised)


def _purge(rt: Runtime) -> bool:
    with job_run(rt.metrics, JobKind.PURGE) as run:
        purge_trash(rt)
    return run.outcome is Outcome.ERROR


@dataclass(frozen=True)
class Leftover:
    """What a pass left pending, and why it could not move it now."""

    pending: int  # wanted copies not synced, over every site
    held: list[worker_rows.Held]  # leased by other workers
    retry_count: int
    retry_at: int | None  # ms, the earliest retry

    @property
    def waiting(self) -> bool:
        return bool(self.held or self.retry_count)

    def describe(self) -> str:
        parts = [
            f"{_files(h.files)} leased by worker {h.owner} until {_clock(h.until)}"
            for h in self.held
        ]
        if self.retry_count:
            verb = "waits" if self.retry_count == 1 else "wait"
            parts.append(
                f"{self.retry_count} {verb} for retry (next at {_clock(self.retry_at or 0)})"
            )
        return "; ".join(parts)


def leftover(store: Store, *, me: str, now: int) -> Leftover:
    """Pending copies, those leased by workers other than `me`, those waiting for a retry."""
    with store.read() as tx:
        counts = queue.counts(tx)
        held = [h for h in worker_rows.held(tx, now) if h.owner != me]
        retry_count, retry_at = worker_rows.waiting_for_retry(tx, now)
    pending = sum(n for c in counts.values() for state, n in c.files.items() if state != "synced")
    return Leftover(pending, held, retry_count, retry_at)


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%H:%M:%S")


# ---- the loop ---------------------------------------------------------------------------


class Scheduler:
    """APScheduler jobs per volume, kept in step with the configuration."""

    def __init__(
        self,
        session: HubSession,
        *,
        idle_seconds: float = 2.0,
        refresh_seconds: float = 5.0,
        jitter: float = 0.5,
        purge_seconds: float = 3600.0,
        notify_seconds: float = 30.0,
    ) -> None:
        self.session = session
        self.idle = idle_seconds
        self.refresh_every = refresh_seconds
        self.jitter = jitter
        self.purge_every = purge_seconds
        self.notify_every = notify_seconds
        self._stop = threading.Event()
        self._jobs: dict[str, tuple[JobKind, float]] = {}  # id -> (kind, interval)
        self._aps = _aps_scheduler()

    @property
    def rt(self) -> Runtime:
        return self.session.rt

    def start(self) -> None:
        declare(self.rt.metrics)
        clean_stale_syncing(self.rt, everything=True)
        self._aps.start()
        for job_id, func, every in (
            ("config", self.refresh, self.refresh_every),
            ("purge", self._purge, self.purge_every),
            ("notify", self._notify, self.notify_every),
        ):
            self._aps.add_job(func, "interval", seconds=every, id=job_id, next_run_time=_now())

    def shutdown(self, wait: bool = True) -> None:
        self._stop.set()
        self._aps.shutdown(wait=wait)
        self.session.close()

    def desired_jobs(self, cfg: SyncConfig) -> dict[str, tuple[JobKind, float]]:
        """Job id -> (kind, interval in seconds) for the current configuration."""
        jobs: dict[str, tuple[JobKind, float]] = {}
        for name, volume in cfg.volumes.items():
            if volume.emits:
                jobs[f"emission:{name}"] = (JobKind.EMISSION, self.idle)
            if volume.receives:
                jobs[f"reception:{name}"] = (JobKind.RECEPTION, self.idle)
        every = max(1.0, float(cfg.globals.sleep_between_scans))
        for name in scanned_volumes(cfg):
            jobs[f"scan:{name}"] = (JobKind.SCAN, every)
        for name in deleting_volumes(cfg):
            jobs[f"deletions:{name}"] = (JobKind.DELETIONS, every)
        return jobs

    def refresh(self) -> None:
        """Follow the configuration: hub session, sites, and the set of jobs."""
        with job_run(self.rt.metrics, JobKind.CONFIG):
            self._refresh()

    def _refresh(self) -> None:
        with self.rt.store.read() as tx:
            cfg = tx.config()
        self.session.refresh(cfg)
        for site in cfg.sites:
            self.rt.metrics.declare_site(site)
        clean_stale_syncing(self.rt)
        wanted = self.desired_jobs(cfg) if cfg.hub else {}
        for job_id in [j for j in self._jobs if self._jobs[j] != wanted.get(j)]:
            self._aps.remove_job(job_id)
            del self._jobs[job_id]
        for job_id, (kind, every) in wanted.items():
            if job_id in self._jobs:
                continue
            volume = job_id.split(":", 1)[1]
            self._aps.add_job(
                self._work,
                "interval",
                args=(kind, volume, every),
                seconds=every,
                jitter=self.jitter,
                id=job_id,
                next_run_time=_now(),
            )
            self._jobs[job_id] = (kind, every)

    def _work(self, kind: JobKind, volume: str, every: float) -> None:
        """One job run: continuous while work remains, then back to the interval.

        Transfers share out their files through leases; a scan or a deletion propagation is
        one run per period across every worker on the store (`job_claims`)."""
        job_id = f"{kind.value}:{volume}"
        period = every if kind in (JobKind.SCAN, JobKind.DELETIONS) else 0.0
        with self.session.runtime() as rt, self._claimed(rt, job_id, period) as ours:
            if not ours:
                return
            with self.session.worker.running(job_id), job_run(rt.metrics, kind, volume) as run:
                if kind is JobKind.SCAN:
                    _scan(rt, volume, run)
                elif kind is JobKind.DELETIONS:
                    _delete(rt, volume, run)
                else:
                    self._transfers(rt, kind, volume, run)

    @contextmanager
    def _claimed(self, rt: Runtime, job_id: str, every: float) -> Iterator[bool]:
        """Whether this worker runs `job_id` now: always if `every` is 0, else if it wins
        the period's claim (released at the end; the heartbeat renews it meanwhile)."""
        if not every:
            yield True
            return
        now = rt.clock()
        # a little under the interval: timers of different workers drift by their jitter
        period_ms = int(max(0.0, every * 0.9 - self.jitter) * 1000)
        until = now + self.session.worker.lease_ms
        with rt.store.write() as tx:
            ours = worker_rows.claim_job(
                tx, job_id, rt.worker_id, now=now, period_ms=period_ms, until=until
            )
        try:
            yield ours
        finally:
            if ours:
                with rt.store.write() as tx:
                    worker_rows.finish_job(tx, job_id, rt.worker_id)

    def _transfers(self, rt: Runtime, kind: JobKind, volume: str, run: Run) -> None:
        job: Job = emit if kind is JobKind.EMISSION else receive
        while not self._stop.is_set():
            result = job(rt, volume)
            if result.exit_code and not result.delivered:
                run.fail()
            if not result.more:
                break
        if run.outcome is Outcome.OK:  # the queue drained without a failed batch
            rt.metrics.reconcile_last_success.set(time.time())

    def _purge(self) -> None:
        with self.session.runtime() as rt, self._claimed(rt, "purge", self.purge_every) as ours:
            if ours:
                with job_run(rt.metrics, JobKind.PURGE):
                    purge_trash(rt)

    def _notify(self) -> None:
        """E-mail digests (rate-limited inside notify_pass; a no-op without smtpHost)."""
        with self.session.runtime() as rt, self._claimed(rt, "notify", self.notify_every) as ours:
            if ours:
                with job_run(rt.metrics, JobKind.NOTIFY):
                    notify_pass(rt)


def _aps_scheduler() -> BackgroundScheduler:
    """APScheduler, imported here: its import is a quarter of `spctl reconcile --once`'s
    module loading (measured with `python -X importtime`), and a single pass needs none."""
    from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    return BackgroundScheduler(
        executors={"default": JobExecutor(max_workers=32)},
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )


def _now() -> Any:
    return datetime.now().astimezone()
