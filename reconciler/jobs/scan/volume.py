"""Scan one volume: list it, compare with the tracker, write the differences
(architecture.md#the-loop).

`scan_volume(rt, volume)` is the job the scheduler runs every `sleepBetweenScans` seconds
for volumes with `enableDiscovery` (and global `enableScans`). Steps:
0. check the volume marker (`reconciler.jobs.markers`) while the listing starts (its own SSH
   lane): the marker's verdict is awaited before anything is written, and a volume found not
   mounted stops its listing at the next chunk and fails the scan (one round trip, a whole
   SSH login without a kept connection, off the critical path of every scan);
1. list the volume through its transport; the tracker's files are read ahead meanwhile;
2. parse the output and merge it with the tracker's files streamed in the same order
   (`tracked`, `compare`). Without packages this happens while the listing streams in, and
   the actions wait in an `ActionBuffer`; with packages the listing is spooled to a
   temporary file first, because folding packages in (`packages`) takes two passes;
3. only once the whole listing arrived and the command exited 0, write the actions in
   batches (`apply`): an unreachable volume or a failing `find` changes nothing but the
   volume's status keys; too many deletions are held back (`guard`);
4. record `last_scan`, `scan_duration`, `exit_scan`, `stderr_scan` (and `scannedOnce`,
   `deletionsHeld`) on the `volume/<name>` object and the `syncplanet_scan_duration_seconds`
   gauge.
Memory stays flat: the listing lives in the spool file or is consumed as it comes, the
tracker side in pages, the actions beyond one batch in a spill file.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections import Counter
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import IO

from reconciler.core.config import SyncConfig, VolumeConfig
from reconciler.core.domain import VOLUME_PREFIX
from reconciler.core.urls import InvalidUrl, parse_url
from reconciler.jobs.markers import ensure_mounted
from reconciler.jobs.runtime import Runtime
from reconciler.jobs.scan.apply import ActionBuffer, apply_actions
from reconciler.jobs.scan.compare import Action, ActionKind, OrderError, ScanContext, compare
from reconciler.jobs.scan.guard import HELD_KEY, REASON_KEY, DeletionLimits, held_reason
from reconciler.jobs.scan.listing import Listed, ListingError, ListingParser
from reconciler.jobs.scan.packages import arrange, package_folders
from reconciler.jobs.scan.rules import ScanRules
from reconciler.jobs.scan.tracked import ReadAhead, Tracked, iter_tracked
from reconciler.store.tracked import holds_any, package_ids
from reconciler.transport.shells import CommandFailed

log = logging.getLogger(__name__)
CHUNK = 1 << 20
EMPTY_ROOT_EXIT = 3  # exit_scan when an empty root is refused (an unmounted share?)


class ScanStatus(StrEnum):
    DONE = "done"
    DISABLED = "disabled"  # discovery off for this volume, or scans off globally
    FAILED = "failed"  # the listing failed: nothing was changed in the tracker


@dataclass(frozen=True)
class ScanReport:
    volume: str
    status: ScanStatus
    listed: int = 0  # files found on the volume
    actions: dict[str, int] = field(default_factory=dict)  # ActionKind value -> files
    skipped: int = 0  # names that cannot be tracker ids (not UTF-8)
    exit_code: int = 0
    stderr: str = ""
    duration: float = 0.0  # seconds
    held: int = 0  # deletions found but held back by the guard (`stderr` says why)

    @property
    def changed(self) -> int:
        return sum(self.actions.values())

    def count(self, kind: ActionKind) -> int:
        return self.actions.get(kind.value, 0)


class ScanFailed(RuntimeError):
    def __init__(self, exit_code: int, stderr: str) -> None:
        super().__init__(stderr)
        self.exit_code = exit_code
        self.stderr = stderr


def _enabled(cfg: SyncConfig, volume: VolumeConfig) -> bool:
    return cfg.globals.enable_scans and volume.enabled and volume.enable_discovery


def _context(
    cfg: SyncConfig,
    volume: VolumeConfig,
    first_scan_at: int | None,
    now: int,
    started: int,
    rules: ScanRules,
) -> ScanContext:
    ignore_existing = cfg.globals.ignore_existing_files
    return ScanContext(
        volume=volume.name,
        now=now,
        started=started,
        discover_updated=volume.enable_discovery_updated_files,
        discover_deleted=volume.enable_discovery_deleted_files,
        ignore_before=(first_scan_at or started) if ignore_existing else None,
        hold_existing=ignore_existing and first_scan_at is None,
        in_scope=rules.in_scope,
    )


def _entries(spool: IO[bytes], parser: ListingParser) -> Iterator[Listed]:
    spool.seek(0)
    yield from _parse(iter(lambda: spool.read(CHUNK), b""), parser)


def _parse(chunks: Iterable[bytes], parser: ListingParser) -> Iterator[Listed]:
    for chunk in chunks:
        yield from parser.feed(chunk)
    parser.close()


def _listing(rt: Runtime, volume: VolumeConfig) -> Generator[bytes, None, None]:
    """The volume's listing records, in chunks; `ScanFailed` if the listing failed."""
    try:
        site = rt.site(parse_url(volume.url))
    except InvalidUrl as exc:  # stored without validation (the API): recorded, not raised
        raise ScanFailed(2, f"bad url: {exc}") from exc
    try:
        yield from site.list_files()
    except CommandFailed as exc:
        raise ScanFailed(exc.exit_code, exc.stderr.strip()) from exc
    except OSError as exc:
        raise ScanFailed(127, f"cannot run the listing command: {exc}") from exc


def _mounted(rt: Runtime, cfg: SyncConfig, vol: VolumeConfig, *, adopt: bool) -> None:
    """Raise `ScanFailed` unless the volume's marker says it is mounted."""
    try:
        site = rt.site(parse_url(vol.url))
    except InvalidUrl as exc:  # stored without validation (the API): recorded, not raised
        raise ScanFailed(2, f"bad url: {exc}") from exc
    check = ensure_mounted(rt, cfg, vol, site, adopt=adopt)
    if check.verdict is None or check.not_mounted:
        raise ScanFailed(check.exit_code, check.message)


class _OriginFiles:
    """The tracked files as the merge reads them, counting those of this origin."""

    def __init__(self, source: ReadAhead, volume: str) -> None:
        self.source, self.volume, self.count = source, volume, 0

    def __iter__(self) -> Iterator[Tracked]:
        for item in self.source:
            if item.origin == self.volume and not item.deleted:
                self.count += 1
            yield item

    def close(self) -> None:
        self.source.close()


def _merge(
    rt: Runtime,
    vol: VolumeConfig,
    ctx: ScanContext,
    rules: ScanRules,
    parser: ListingParser,
    done: Counter[ActionKind],
    guard: tuple[DeletionLimits, int],
    mounted: Future[None],
) -> tuple[int, str]:
    """Receive the listing, merge it with the tracker, then write the differences.

    Return the deletions held back by the guard (`guard`: the limits and the count an
    operator confirmed), and why. `mounted` is the marker check running meanwhile."""
    tracked = _OriginFiles(ReadAhead(iter_tracked(rt.store, vol.name)), vol.name)
    merge = _Merge(rt, vol, ctx, rules, parser, tracked, ActionBuffer(), mounted)
    try:
        listed_any = merge.listed()
        if not listed_any:
            with rt.store.read() as tx:
                if holds_any(tx, vol.name):
                    raise ScanFailed(
                        EMPTY_ROOT_EXIT,
                        f"volume root {vol.url} is empty but the tracker has files from it: "
                        "refusing to mark them deleted (is the storage mounted?)",
                    )
        tracked.close()  # the merge consumed it: nothing more to read
        limits, confirmed = guard
        why = held_reason(vol.name, merge.deletions, tracked.count, limits, confirmed=confirmed)
        actions: Iterable[Action] = merge.actions
        if why is not None:
            actions = (a for a in merge.actions if a.kind is not ActionKind.DELETE)
        apply_actions(rt.store, actions, ctx, done)
        return (merge.deletions, why) if why is not None else (0, "")
    finally:
        tracked.close()
        merge.actions.close()


@dataclass
class _Merge:
    """One scan's listing against the tracker; the actions wait in `actions`."""

    rt: Runtime
    vol: VolumeConfig
    ctx: ScanContext
    rules: ScanRules
    parser: ListingParser
    tracked: Iterable[Tracked]
    actions: ActionBuffer
    mounted: Future[None]  # the marker check; raises `ScanFailed` if not mounted
    deletions: int = 0

    def listed(self) -> bool:
        """List and compare; the marker's verdict first, whatever happened: a volume not
        mounted fails the scan with that reason, and nothing is written before it is known."""
        try:
            listed_any = self.spooled() if self.rules.folds_packages else self.live()
        except BaseException:
            self.mounted.result()
            raise
        self.mounted.result()
        return listed_any

    def _chunks(self) -> Generator[bytes, None, None]:
        """The listing's chunks; stopped as soon as the marker says not mounted."""
        listing = _listing(self.rt, self.vol)
        try:
            for chunk in listing:
                if self.mounted.done():
                    self.mounted.result()
                yield chunk
        finally:
            listing.close()  # stops the command when this ends early

    def _compare(self, listed: Iterable[Listed]) -> None:
        for action in compare(listed, self.tracked, self.ctx):
            self.deletions += action.kind is ActionKind.DELETE
            self.actions.append(action)

    def live(self) -> bool:
        """Compare while the listing streams in; return whether it listed anything."""
        received = 0

        def chunks() -> Generator[bytes, None, None]:
            nonlocal received
            for chunk in self._chunks():
                received += len(chunk)
                yield chunk

        source = chunks()
        try:
            self._compare(arrange(_parse(source, self.parser), self.rules, {}))
        finally:
            source.close()  # stops the command if the merge failed half-way
        return received > 0

    def spooled(self) -> bool:
        """Spool the listing, find its packages (pass 1), then compare (pass 2)."""
        with tempfile.TemporaryFile(prefix="spctl-scan-") as spool:
            for chunk in self._chunks():
                spool.write(chunk)
            if spool.tell() == 0:
                return False
            packages = package_folders(_entries(spool, ListingParser()), self.rules)
            self._compare(arrange(_entries(spool, self.parser), self.rules, packages))
        return True


def scan_volume(
    rt: Runtime, volume: str, *, confirm_deletions: bool = False, adopt: bool = False
) -> ScanReport:
    """List `volume` and bring the tracker in line with it (see the module docstring).

    `confirm_deletions` lets through the deletions the guard held (`deletionsHeld`);
    `adopt` re-initialises the volume marker (`reconciler.jobs.markers`)."""
    with rt.store.read() as tx:
        cfg = tx.config()
        doc = tx.get(VOLUME_PREFIX + volume) or {}
        known_packages = package_ids(tx)
    vol = cfg.volumes.get(volume)
    if vol is None:
        raise KeyError(f"unknown volume {volume!r}")
    if not _enabled(cfg, vol):
        if adopt:  # a volume that is not scanned has a marker too
            try:
                _mounted(rt, cfg, vol, adopt=True)
            except ScanFailed as exc:
                return ScanReport(volume, ScanStatus.FAILED, exit_code=exc.exit_code,
                                  stderr=exc.stderr)  # fmt: skip
        return ScanReport(volume, ScanStatus.DISABLED)
    first = doc.get("scannedOnce")
    first_scan_at = first if isinstance(first, int) and not isinstance(first, bool) else None
    started = rt.clock()
    clock0 = time.monotonic()
    packages_on = vol.enable_discovery_packages
    rules = ScanRules.from_globals(
        cfg.globals, packages_enabled=packages_on, known_packages=known_packages
    )
    ctx = _context(cfg, vol, first_scan_at, rt.clock(), started, rules)
    parser = ListingParser()
    done: Counter[ActionKind] = Counter()
    confirmed = doc.get(HELD_KEY) if confirm_deletions else 0
    guard = DeletionLimits.of(cfg, vol), confirmed if isinstance(confirmed, int) else 0
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="scan-marker") as pool:
            mounted = pool.submit(_mounted, rt, cfg, vol, adopt=adopt)
            held, why = _merge(rt, vol, ctx, rules, parser, done, guard, mounted)
    except (ScanFailed, ListingError, OrderError) as exc:
        code = exc.exit_code if isinstance(exc, ScanFailed) else 1
        failed = ScanReport(volume, ScanStatus.FAILED, actions=_counts(done),
                            exit_code=code, stderr=str(exc)[:4000])  # fmt: skip
        return _finish(rt, failed, started, clock0, first_scan_at)
    notes = [why] if why else []
    if parser.skipped:
        samples = ", ".join(parser.skipped_samples)
        notes.append(f"{parser.skipped} file name(s) not valid UTF-8, not tracked: {samples}")
    report = ScanReport(volume, ScanStatus.DONE, listed=parser.entries, actions=_counts(done),
                        skipped=parser.skipped, stderr="; ".join(notes), held=held)  # fmt: skip
    return _finish(rt, report, started, clock0, first_scan_at)


def _counts(done: Counter[ActionKind]) -> dict[str, int]:
    return {kind.value: n for kind, n in sorted(done.items()) if n}


def _finish(
    rt: Runtime, report: ScanReport, started: int, clock0: float, first_scan_at: int | None
) -> ScanReport:
    """Record the outcome on the volume object and the scan-duration gauge."""
    volume = report.volume
    duration = round(time.monotonic() - clock0, 3)
    status: dict[str, object] = {
        "last_scan": rt.clock(),
        "scan_duration": duration,
        "exit_scan": report.exit_code,
        "stderr_scan": report.stderr,
    }
    if report.status is ScanStatus.DONE:
        status[HELD_KEY] = report.held or None
        status[REASON_KEY] = report.stderr.split("; ")[0] if report.held else None
        if first_scan_at is None:
            status["scannedOnce"] = started
    with rt.store.write() as tx:
        tx.patch(VOLUME_PREFIX + volume, status)
    rt.metrics.scan_duration.labels(volume).set(duration)
    if report.held:
        log.warning("scan %s: %s", volume, report.stderr)
    # A scan that changed nothing repeats every few seconds per volume: DEBUG, not INFO.
    changed = bool(report.actions) or report.status is ScanStatus.FAILED
    log.log(
        logging.INFO if changed else logging.DEBUG,
        "scan %s: %s, %d listed, %s", volume, report.status, report.listed, report.actions,
    )  # fmt: skip
    return replace(report, duration=duration)
