"""Driving the reconcile jobs: the hub session, one pass (`reconcile_once`), and APScheduler.

`HubSession` owns the process's connection to the hub host (`LocalShell` or Fabric) and the
OpenSSH ControlMaster directory that rsync's `ssh` reuses (SPEC §10, opened by
`reconciler.transport.hub`), and rebuilds them when the Hub object changes.
`reconcile_once` runs scans, then emissions and receptions of every volume in parallel
until nothing that can move is pending. `Scheduler` (APScheduler 3.x)
keeps, per enabled volume, an emission, a reception and (with discovery) a scan job, each
`max_instances=1` with jitter, and follows configuration changes by re-reading it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from reconciler.config import SyncConfig
from reconciler.metrics import Metrics
from reconciler.notify import notify_pass
from reconciler.reconcile import JobResult, clean_stale_syncing, emit, purge_trash, receive
from reconciler.runtime import Runtime, now_ms
from reconciler.store import Store, queue
from reconciler.transport import hub as hub_host
from reconciler.transport.shells import LocalShell
from reconciler.transport.ssh import SshSettings
from reconciler.transport.urls import InvalidUrl, SiteUrl, parse_url

log = logging.getLogger(__name__)
Job = Callable[..., JobResult]
MAX_ROUNDS = 100


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class HubSession:
    """A `Runtime` whose hub shell and SSH settings follow the Hub object."""

    def __init__(
        self,
        store: Store,
        *,
        metrics: Metrics | None = None,
        worker_id: str | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.rt = Runtime(
            store=store,
            shell=LocalShell(),
            ssh=SshSettings(),
            metrics=metrics or Metrics(),
            clock=clock,
            worker_id=worker_id or default_worker_id(),
        )
        self._hub_key: tuple[str, str, str] | None = None
        self._volume_urls: set[str] = set()
        self._old_dirs: list[str] = []  # ControlMaster dirs, removed at close()
        self._lock = threading.Lock()

    def refresh(self, cfg: SyncConfig) -> None:
        """(Re)connect when the hub's url, identityFile or knownHosts changed."""
        self._volume_urls |= {v.url for v in cfg.volumes.values()}
        hub = cfg.hub
        key = (
            (hub.url, str(hub.values["identityFile"] or ""), str(hub.values["knownHosts"] or ""))
            if hub
            else None
        )
        with self._lock:
            if key == self._hub_key:
                return
            self._close_hub(remove_dir=False)  # running jobs may still use its sockets
            self._hub_key = key
            if key is None:
                return
            try:
                url = parse_url(key[0])
            except InvalidUrl as exc:
                log.error("hub url: %s", exc)
                return
            self.rt.shell, self.rt.ssh = hub_host.connect(
                url, identity_file=key[1], known_hosts=key[2]
            )

    def _sites(self) -> list[SiteUrl]:
        urls: list[SiteUrl] = []
        for raw in sorted(self._volume_urls):
            try:
                urls.append(parse_url(raw))
            except InvalidUrl:
                continue
        return urls

    def _close_hub(self, *, remove_dir: bool = True) -> None:
        rt = self.rt
        if rt.ssh.control_dir:
            self._old_dirs.append(rt.ssh.control_dir)
            hub_host.disconnect(rt.shell, rt.ssh, self._sites())
        if remove_dir:
            hub_host.remove_control_dirs(rt.shell, self._old_dirs)
            self._old_dirs.clear()
        rt.shell.close()
        rt.shell, rt.ssh = LocalShell(), SshSettings()

    def close(self) -> None:
        with self._lock:
            self._close_hub()
            self._hub_key = None


def open_session(store: Store, **kwargs: Any) -> HubSession:
    session = HubSession(store, **kwargs)
    with store.read() as tx:
        cfg = tx.config()
    session.refresh(cfg)
    return session


# ---- one pass ----------------------------------------------------------------------------


def _scan(rt: Runtime, volume: str) -> None:
    """Discovery on one volume (imported here: only volumes with discovery need it)."""
    from reconciler.scan import scan_volume

    try:
        scan_volume(rt, volume)
    except Exception:  # one volume's scan failure never stops the others
        log.exception("scan of %s failed", volume)


def _delete(rt: Runtime, volume: str) -> None:
    """Move copies of files deleted at their origin to this volume's trash."""
    from reconciler.deletions import propagate_deletions

    try:
        propagate_deletions(rt, volume)
    except Exception:
        log.exception("propagating deletions to %s failed", volume)


def deleting_volumes(cfg: SyncConfig) -> list[str]:
    """Volumes that mirror deletions (whether or not they are scanned themselves)."""
    return [n for n, v in cfg.volumes.items() if v.enabled and v["propagateDeletions"]]


def scanned_volumes(cfg: SyncConfig) -> list[str]:
    if not cfg.globals["enableScans"]:
        return []
    return [n for n, v in cfg.volumes.items() if v.enabled and v["enableDiscovery"]]


def errors_remain(store: Store) -> bool:
    with store.read() as tx:
        return any(c.files.get("error", 0) > 0 for c in queue.counts(tx.conn).values())


class _Pass:
    """Emission and reception of every volume in parallel, until nothing moves."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.lock = threading.Lock()
        self.probed: set[str] = set()  # volumes tried once already in this pass
        self.emitting = 0

    def _run(self, job: Job, volume: str) -> JobResult:
        with self.lock:
            first = volume not in self.probed
        result = job(self.rt, volume, ignore_volume_backoff=first)
        if result.exit_code is not None:
            with self.lock:
                self.probed.add(volume)
        return result

    def emissions(self, volume: str) -> int:
        moved = 0
        try:
            while True:
                result = self._run(emit, volume)
                moved += result.planned
                if not result.more:
                    return moved
        finally:
            with self.lock:
                self.emitting -= 1

    def receptions(self, volume: str) -> int:
        moved = 0
        while True:
            result = self._run(receive, volume)
            moved += result.planned
            if result.skipped or result.more:
                if result.skipped:
                    return moved
                continue
            with self.lock:
                emitting = self.emitting
            if emitting:  # files reach the hub meanwhile: pipeline them out
                time.sleep(0.1)
                continue
            if not result.planned:
                return moved

    def round(self, volumes: list[str]) -> int:
        self.emitting = len(volumes)
        with ThreadPoolExecutor(max_workers=max(2, 2 * len(volumes))) as pool:
            futures = [pool.submit(self.emissions, v) for v in volumes]
            futures += [pool.submit(self.receptions, v) for v in volumes]
            return sum(f.result() for f in futures)


def reconcile_once(rt: Runtime, *, scans: bool = True) -> bool:
    """Scan, emit and receive until nothing that can move is pending; True if errors remain.

    Per-file backoff is honoured; a volume marked unreachable is tried once at once (it may
    answer again), then waits for its backoff.
    """
    clean_stale_syncing(rt, everything=True)
    with rt.store.read() as tx:
        cfg = tx.config()
    for site in cfg.sites:
        rt.metrics.declare_site(site)
    if scans:
        to_scan = scanned_volumes(cfg)
        with ThreadPoolExecutor(max_workers=max(1, len(to_scan))) as pool:
            for name in to_scan:
                pool.submit(_scan, rt, name)
    # after every scan: a deletion found at one origin reaches every mirroring volume now
    to_delete = deleting_volumes(cfg)
    with ThreadPoolExecutor(max_workers=max(1, len(to_delete))) as pool:
        for name in to_delete:
            pool.submit(_delete, rt, name)
    with ThreadPoolExecutor(max_workers=1) as side:
        purge = side.submit(purge_trash, rt)  # its own SSH lane: runs beside the transfers
        one = _Pass(rt)
        volumes = list(cfg.volumes)
        for _ in range(MAX_ROUNDS):  # bound: a zero backoff would make failures due at once
            if not volumes or not one.round(volumes):
                break
        purge.result()
    notify_pass(rt)
    rt.metrics.reconcile_last_success.set(time.time())
    return errors_remain(rt.store)


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
        self._jobs: dict[str, tuple[str, float]] = {}  # id -> (kind, interval)
        self._aps = BackgroundScheduler(
            executors={"default": JobExecutor(max_workers=32)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )

    @property
    def rt(self) -> Runtime:
        return self.session.rt

    def start(self) -> None:
        clean_stale_syncing(self.rt, everything=True)
        self._aps.start()
        self._aps.add_job(
            self.refresh, "interval", seconds=self.refresh_every, id="config", next_run_time=_now()
        )
        self._aps.add_job(
            self._purge, "interval", seconds=self.purge_every, id="purge", next_run_time=_now()
        )
        self._aps.add_job(
            self._notify, "interval", seconds=self.notify_every, id="notify", next_run_time=_now()
        )

    def shutdown(self, wait: bool = True) -> None:
        self._stop.set()
        self._aps.shutdown(wait=wait)
        self.session.close()

    def desired_jobs(self, cfg: SyncConfig) -> dict[str, tuple[str, float]]:
        """Job id -> (kind, interval in seconds) for the current configuration."""
        jobs: dict[str, tuple[str, float]] = {}
        for name, volume in cfg.volumes.items():
            if volume.emits:
                jobs[f"emission:{name}"] = ("emission", self.idle)
            if volume.receives:
                jobs[f"reception:{name}"] = ("reception", self.idle)
        every = max(1.0, float(cfg.globals["sleepBetweenScans"]))
        for name in scanned_volumes(cfg):
            jobs[f"scan:{name}"] = ("scan", every)
        for name in deleting_volumes(cfg):
            jobs[f"deletions:{name}"] = ("deletions", every)
        return jobs

    def refresh(self) -> None:
        """Follow the configuration: hub session, sites, and the set of jobs."""
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
                args=(kind, volume),
                seconds=every,
                jitter=self.jitter,
                id=job_id,
                next_run_time=_now(),
            )
            self._jobs[job_id] = (kind, every)
        self.rt.metrics.reconcile_last_success.set(time.time())

    def _work(self, kind: str, volume: str) -> None:
        """One job run: continuous while work remains, then back to the interval."""
        try:
            if kind == "scan":
                _scan(self.rt, volume)
                return
            if kind == "deletions":
                _delete(self.rt, volume)
                return
            job: Job = emit if kind == "emission" else receive
            while not self._stop.is_set():
                result = job(self.rt, volume)
                if not result.more:
                    break
            self.rt.metrics.reconcile_last_success.set(time.time())
        except Exception:  # logged; the job runs again at its next interval
            log.exception("%s job for %s failed", kind, volume)

    def _purge(self) -> None:
        try:
            purge_trash(self.rt)
        except Exception:
            log.exception("trash purge failed")

    def _notify(self) -> None:
        """E-mail digests (rate-limited inside notify_pass; a no-op without smtpHost)."""
        try:
            notify_pass(self.rt)
        except Exception:
            log.exception("e-mail notification failed")


def _now() -> Any:
    from datetime import datetime

    return datetime.now().astimezone()
