"""The level-based reconcile jobs: one emission or reception batch for one volume.

Each job re-reads the tracker, takes the next batch from the maintained queue
(`reconciler.store.queue`), claims it with leases and marks it `syncing_<site>`, hands it to
the volume's transport (`reconciler.transport`: send or receive), then writes in ONE
transaction what the outcome proves (`reconciler.core.planning.file_changes`): `synced_<site>`
for verified entries only, errors for the others, and the volume's status keys. A crash at
any point leaves at worst a stale `syncing_` key and a lease that expires;
`clean_stale_syncing` removes the former.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from reconciler.core.config import SyncConfig, VolumeConfig
from reconciler.core.domain import VOLUME_PREFIX, Direction, syncing_key
from reconciler.core.planning import (
    QueueItem,
    file_changes,
    select_batch,
    volume_status,
    volume_waiting,
)
from reconciler.core.streams import stream_count
from reconciler.core.urls import InvalidUrl, SiteUrl, on_hub_host, parse_url
from reconciler.jobs.markers import ensure_mounted
from reconciler.jobs.runtime import Runtime
from reconciler.store import queue
from reconciler.transport.options import MergedOptions, site_options
from reconciler.transport.protocol import Batch, TransferOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    """What one job did; `more` = a full batch went through, so run again at once."""

    volume: str
    direction: Direction
    planned: int = 0
    delivered: int = 0
    failed: int = 0
    exit_code: int | None = None
    skipped: str = ""
    more: bool = False


def emit(rt: Runtime, volume: str, *, ignore_volume_backoff: bool = False) -> JobResult:
    """Volume -> hub: files with `origin == volume` whose hub copy is missing or outdated."""
    return _job(rt, volume, Direction.EMISSION, ignore_volume_backoff)


def receive(rt: Runtime, volume: str, *, ignore_volume_backoff: bool = False) -> JobResult:
    """Hub -> volume: files wanted on `volume` whose hub copy is up to date."""
    return _job(rt, volume, Direction.RECEPTION, ignore_volume_backoff)


@dataclass(frozen=True)
class _Plan:
    cfg: SyncConfig
    volume: VolumeConfig
    site: str  # whose keys change: the hub's on emission, the volume's on reception
    hub_url: SiteUrl
    volume_url: SiteUrl
    options: MergedOptions
    batch: list[QueueItem]
    more: bool  # the queue holds more than this batch


def _plan(
    rt: Runtime, name: str, direction: Direction, ignore_backoff: bool, now: int
) -> _Plan | str:
    """The next batch, or why there is none."""
    with rt.store.read() as tx:
        cfg = tx.config()
        volume = cfg.volumes.get(name)
        if cfg.hub is None:
            return "no hub configured"
        if volume is None:
            return f"no volume {name}"
        if not (volume.emits if direction is Direction.EMISSION else volume.receives):
            return f"{direction.value} disabled"
        if not ignore_backoff and volume_waiting(tx.get(VOLUME_PREFIX + name), now):
            return "volume unreachable, waiting for its next connection attempt"
        try:
            hub_url, volume_url = parse_url(cfg.hub.url), parse_url(volume.url)
        except InvalidUrl as exc:
            return f"bad url: {exc}"
        if direction is Direction.EMISSION:
            amount, max_bytes = volume.sync_amount_emission, volume.sync_bytes_emission
        else:
            amount, max_bytes = volume.sync_amount_reception, volume.sync_bytes_reception
        amount = max(1, amount)
        if direction is Direction.EMISSION:
            site = cfg.hub.name
            items = queue.emission_queue(tx, site, name, amount, now)
        else:
            site = name
            items = queue.reception_queue(tx, site, amount, now)
    options = site_options(cfg, volume)
    for refused in options.dropped:
        log.warning("rsync option refused (%s)", refused)
    batch = select_batch(items, amount, max_bytes)
    return _Plan(
        cfg,
        volume,
        site,
        hub_url,
        volume_url,
        options,
        batch,
        more=len(items) >= amount or len(batch) < len(items),
    )


def _claim(rt: Runtime, plan: _Plan, now: int, lease_ms: int) -> list[QueueItem]:
    ids = [i.file_id for i in plan.batch]
    with rt.store.write() as tx:
        claimed = set(queue.claim(tx, plan.site, ids, rt.worker_id, now, now + lease_ms))
        tx.mark_syncing(plan.site, [f for f in ids if f in claimed], now)
    return [i for i in plan.batch if i.file_id in claimed]


@contextmanager
def _leases_kept(rt: Runtime, site: str, ids: list[str], lease_ms: int) -> Iterator[None]:
    """Renew the claim every third of its length while the batch runs."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease_ms / 3000):
            try:
                with rt.store.write() as tx:
                    queue.renew(tx, site, ids, rt.worker_id, rt.clock() + lease_ms)
            except Exception:  # a failed renewal only risks a duplicate transfer later
                log.exception("lease renewal failed for %s", site)

    thread = threading.Thread(target=renew, name=f"lease-{site}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _record(
    rt: Runtime, plan: _Plan, direction: Direction, items: list[QueueItem], outcome: TransferOutcome
) -> tuple[int, int]:
    """Write the outcome in one transaction; return (delivered, failed)."""
    now = rt.clock()
    ids = [i.file_id for i in items]
    delivered = failed = 0
    with rt.store.write() as tx:
        tx.lock(ids)  # a scan may patch them meanwhile
        general = items
        if direction is Direction.RECEPTION:  # verified copies: the store's own path
            verified = {i.file_id: i.time for i in items if i.file_id in outcome.arrived}
            rest = set(tx.mark_synced(plan.site, verified, now))
            delivered = len(verified) - len(rest)
            general = [i for i in items if i.file_id not in verified or i.file_id in rest]
        docs = tx.get_many([i.file_id for i in general], for_update=True)
        updated: list[Mapping[str, Any]] = []
        keys: set[str] = set()  # every key changed: a reception's touch one volume's row
        for item, doc in zip(general, docs, strict=True):
            if doc is None:
                continue
            facts = outcome.arrived.get(item.file_id)
            changes = file_changes(
                doc,
                site=plan.site,
                direction=direction,
                planned_time=item.time,
                facts=facts,
                exit_code=outcome.exit_code,
                now=now,
            )
            if facts is None:
                failed += 1
            elif "synced_" + plan.site in changes:
                delivered += 1
            for key, value in changes.items():
                if value is None:
                    doc.pop(key, None)
                else:
                    doc[key] = value
            keys.update(changes)
            updated.append(doc)
        tx.update_many(updated, changed_keys=keys)  # read FOR UPDATE above: they exist
        queue.release(tx, plan.site, ids, rt.worker_id)
        if outcome.attempted:
            volume_id = VOLUME_PREFIX + plan.volume.name
            current = tx.get(volume_id)
            if current is not None:
                g = plan.cfg.globals
                tx.patch(
                    volume_id,
                    volume_status(
                        current,
                        direction=direction,
                        exit_code=outcome.exit_code,
                        stderr=outcome.stderr,
                        delivered=delivered,
                        now=now,
                        backoff_base=float(g.retry_backoff_base),
                        backoff_max=float(g.retry_backoff_max),
                        sent_bytes=sum(f.sent_bytes for f in outcome.arrived.values()),
                        seconds=outcome.seconds,
                    ),
                )
    return delivered, failed


def _observe(
    rt: Runtime,
    volume: str,
    direction: Direction,
    outcome: TransferOutcome,
    delivered: int,
    failed: int,
) -> None:
    m = rt.metrics
    m.transfers.labels(volume, direction.value).inc(delivered)
    m.bytes.labels(volume, direction.value).inc(sum(f.sent_bytes for f in outcome.arrived.values()))
    if failed:
        m.failures.labels(volume, direction.value, str(outcome.exit_code)).inc(failed)
    m.duration.labels(direction.value).observe(outcome.seconds)
    # syncplanet_volume_up is read from the volume's status keys at scrape time (collector)


def _job(rt: Runtime, name: str, direction: Direction, ignore_backoff: bool) -> JobResult:
    now = rt.clock()
    plan = _plan(rt, name, direction, ignore_backoff, now)
    if isinstance(plan, str):
        return JobResult(name, direction, skipped=plan)
    if not plan.batch:
        return JobResult(name, direction)
    # an unmounted share's empty mountpoint must be neither filled nor read from
    mount = ensure_mounted(rt, plan.cfg, plan.volume, rt.site(plan.volume_url))
    if mount.not_mounted:  # recorded as down: the next batch waits for its backoff
        return JobResult(name, direction, skipped=mount.message)
    lease_ms = plan.cfg.globals.lease_seconds * 1000
    items = _claim(rt, plan, now, lease_ms)
    if not items:  # another worker claimed this batch first: plan the next one
        return JobResult(name, direction, more=True)
    ids = [i.file_id for i in items]
    batch = Batch(
        ids,
        hub_root=plan.hub_url.path,
        options=plan.options,
        now=now,
        streams=stream_count(plan.cfg, plan.volume),
        sizes={i.file_id: i.size for i in items},
    )
    site = rt.site(plan.volume_url)
    with _leases_kept(rt, plan.site, ids, lease_ms):
        move = site.send if direction is Direction.EMISSION else site.receive
        in_flight = rt.metrics.streams.labels(name, direction.value)
        in_flight.inc(min(batch.streams, len(ids)))
        try:
            outcome = move(batch)
        finally:
            in_flight.dec(min(batch.streams, len(ids)))
    delivered, failed = _record(rt, plan, direction, items, outcome)
    _observe(rt, name, direction, outcome, delivered, failed)
    log.info(
        "%s %s: %d planned, %d delivered, %d failed (rsync exit %d, %.2fs)",
        direction.value,
        name,
        len(items),
        delivered,
        failed,
        outcome.exit_code,
        outcome.seconds,
    )
    if outcome.exit_code and outcome.stderr:
        log.warning("%s %s: %s", direction.value, name, outcome.stderr.strip()[-500:])
    return JobResult(
        name,
        direction,
        planned=len(items),
        delivered=delivered,
        failed=failed,
        exit_code=outcome.exit_code,
        more=plan.more and not outcome.unreachable,
    )


# ---- housekeeping ----------------------------------------------------------------------


def clean_stale_syncing(rt: Runtime, *, everything: bool = False, limit: int = 10_000) -> int:
    """Remove `syncing_<site>` keys left by a dead worker (their lease is gone)."""
    now = rt.clock()
    with rt.store.write() as tx:
        rows = queue.stale_syncing(tx, now, limit, pending_only=not everything)
        changes: dict[str, dict[str, Any]] = {}
        for file_id, site in rows:
            changes.setdefault(file_id, {})[syncing_key(site)] = None
        tx.patch_many(changes)
    if rows:
        log.info("cleaned %d stale syncing_ keys", len(rows))
    return len(rows)


def purge_trash(rt: Runtime) -> int:
    """Delete trash folders older than the global `trashMaxAgeDays` on the hub and volumes."""
    now = rt.clock()
    with rt.store.read() as tx:
        cfg = tx.config()
        waiting = {n for n in cfg.volumes if volume_waiting(tx.get(VOLUME_PREFIX + n), now)}
    urls: list[SiteUrl] = []
    for raw in [v.url for v in cfg.volumes.values() if v.enabled and v.name not in waiting]:
        try:
            urls.append(parse_url(raw))
        except InvalidUrl:
            continue
    if cfg.hub is not None:
        with suppress(InvalidUrl):
            urls.insert(0, on_hub_host(parse_url(cfg.hub.url)))
    max_age = float(cfg.globals.trash_max_age_days)
    return sum(rt.site(url).purge_trash(now=now, max_age_days=max_age) for url in urls)
