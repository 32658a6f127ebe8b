"""State at a glance: per-site status, one file on every site, and why it is (not) there.

Service functions behind `spctl status | describe file | explain` and the routes
`/api/status`, `/api/describe`, `/api/explain`, `/api/listup`, `/api/listdown`. Each reads
one `Tx` and returns frozen values (`to_json` turns them into plain dicts, the shape both the
API and `-o json` print). Counts come from the maintained `site_counts`; queue positions
from the partial indexes in `reconciler.store.queue`; the decision itself from
`reconciler.core.desired`, so explain says exactly what the reconciler will do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core.config import SyncConfig
from reconciler.core.desired import decide, file_priority, next_retry, site_state
from reconciler.core.domain import (
    SiteState,
    as_number,
    check_file_id,
    error_key,
    last_attempt_key,
    modified_key,
    synced_key,
    syncing_key,
)
from reconciler.core.planning import QueueItem
from reconciler.store import Tx
from reconciler.store import queue as q

_PENDING = (SiteState.MISSING, SiteState.OUTDATED, SiteState.ERROR, SiteState.SYNCING)
MAX_LIST = 10_000


class NotFound(LookupError):
    """A file or site that the tracker does not know."""


class BadRequest(ValueError):
    """A request that names things the wrong way round (the message names the field)."""


def to_json(value: Any) -> Any:
    """Dataclasses (and lists of them) as plain JSON-ready values."""
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return dataclasses.asdict(value)


# rsync(1) EXIT VALUES, and ssh's 255: what an operator reads instead of a bare number.
EXIT_CODES = {
    1: "syntax or usage error",
    2: "protocol incompatibility",
    3: "errors selecting input/output files, dirs",
    5: "error starting client-server protocol",
    10: "error in socket I/O",
    11: "error in file I/O",
    12: "error in rsync protocol data stream",
    13: "errors with program diagnostics",
    14: "error in IPC code",
    20: "received SIGUSR1 or SIGINT",
    22: "error allocating core memory buffers",
    23: "partial transfer due to error",
    24: "partial transfer due to vanished source files",
    30: "timeout in data send/receive",
    35: "timeout waiting for daemon connection",
    255: "ssh: connection failed",
}


def exit_code_text(code: int) -> str:
    return EXIT_CODES.get(code, "unknown error")


def ms_value(doc: Mapping[str, Any], key: str) -> int | None:
    value = as_number(doc.get(key))
    return int(value) if value is not None else None


def reachable(doc: Mapping[str, Any], *, hub: bool = False) -> bool | None:
    """From the connection keys the reconciler writes: None until it has tried once.

    A local hub (a directory on the reconciler's host) has nothing to connect to: reachable.
    """
    attempt = ms_value(doc, "lastConnectionAttempt")
    success = ms_value(doc, "lastConnectionSuccess")
    if attempt is None and success is None:
        if hub and doc.get("url") and not str(doc["url"]).startswith("ssh://"):
            return True
        return None
    return success is not None and (attempt is None or success >= attempt)


# ---- per-site status ---------------------------------------------------------------------


@dataclass(frozen=True)
class SiteStatus:
    site: str
    role: str  # hub | volume
    enabled: bool
    reachable: bool | None
    files: dict[str, int]
    pending_files: int
    pending_bytes: int
    oldest_pending: int | None  # ms
    last_scan: int | None
    last_emission: int | None
    last_reception: int | None
    last_connection_success: int | None
    # why the volume is stopped or waits for an operator (`reconciler.jobs.markers`, scan guard)
    mount_error: str | None = None  # its share is not mounted: nothing moves
    deletions_held: int = 0  # files gone that wait for `spctl scan V --confirm-deletions`
    deletions_held_reason: str | None = None


def _text(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) and value else None


def site_status(tx: Tx) -> list[SiteStatus]:
    """The hub then every volume, with counts and the status keys of its object."""
    cfg = tx.config()
    counts = q.counts(tx)
    out = []
    for site in cfg.sites:
        role = "hub" if site == cfg.hub_name else "volume"
        doc = tx.get(f"{role}/{site}") or {}
        entry = counts.get(site, q.SiteCounts({}, {}))
        files = {s.value: entry.files.get(s.value, 0) for s in SiteState}
        out.append(
            SiteStatus(
                site=site,
                role=role,
                enabled=role == "hub" or cfg.volumes[site].enabled,
                reachable=reachable(doc, hub=role == "hub"),
                files=files,
                pending_files=sum(files[s.value] for s in _PENDING),
                pending_bytes=sum(entry.bytes.get(s.value, 0) for s in _PENDING),
                oldest_pending=q.oldest_pending(tx, site),
                last_scan=ms_value(doc, "last_scan"),
                last_emission=ms_value(doc, "last_emission"),
                last_reception=ms_value(doc, "last_reception"),
                last_connection_success=ms_value(doc, "lastConnectionSuccess"),
                mount_error=_text(doc, "mountError"),
                deletions_held=ms_value(doc, "deletionsHeld") or 0,
                deletions_held_reason=_text(doc, "deletionsHeldReason"),
            )
        )
    return out


# ---- one file on every site --------------------------------------------------------------


@dataclass(frozen=True)
class FileSite:
    site: str
    role: str
    wanted: bool
    state: str
    synced: int | None
    syncing: int | None
    error: int | None
    last_attempt: int | None
    next_retry: int | None
    modified: int | None


@dataclass(frozen=True)
class FileDescription:
    file_id: str
    origin: str | None
    time: int | None
    file_size: int | None
    file_mtime: int | None
    priority: int
    deleted: bool
    lock: str | None
    sites: list[FileSite]


def load_file(tx: Tx, path: str) -> dict[str, Any]:
    try:
        check_file_id(path)
    except ValueError as exc:
        raise BadRequest(f"path: {exc}") from None
    doc = tx.get(path)
    if doc is None:
        raise NotFound(f"file {path} is not tracked")
    return doc


def wanted_on(doc: Mapping[str, Any], site: str, cfg: SyncConfig) -> tuple[bool, str]:
    """architecture.md#desired-state for a volume, architecture.md#the-loop for the hub: (wanted,
    the rule that decided)."""
    if site == cfg.hub_name:
        if doc.get("deleted") is True:
            return False, "deleted: the file vanished from its origin"
        if not isinstance(doc.get("origin"), str):
            return False, "the file has no origin to send it from"
        return True, "the hub receives every file from its origin"
    decision = decide(doc, cfg.volumes[site], cfg)
    return decision.wanted, decision.rule


def describe_file(tx: Tx, path: str) -> FileDescription:
    doc = load_file(tx, path)
    cfg = tx.config()
    sites = []
    for site in cfg.sites:
        role = "hub" if site == cfg.hub_name else "volume"
        sites.append(
            FileSite(
                site=site,
                role=role,
                wanted=wanted_on(doc, site, cfg)[0],
                state=site_state(doc, site).value,
                synced=ms_value(doc, synced_key(site)),
                syncing=ms_value(doc, syncing_key(site)),
                error=ms_value(doc, error_key(site)),
                last_attempt=ms_value(doc, last_attempt_key(site)),
                next_retry=next_retry(doc, site, cfg),
                modified=ms_value(doc, modified_key(site)),
            )
        )
    lock = doc.get("lock")
    return FileDescription(
        file_id=path,
        origin=doc["origin"] if isinstance(doc.get("origin"), str) else None,
        time=ms_value(doc, "time"),
        file_size=ms_value(doc, "file_size"),
        file_mtime=ms_value(doc, "file_mtime"),
        priority=file_priority(doc, cfg),
        deleted=doc.get("deleted") is True,
        lock=lock if isinstance(lock, str) else None,
        sites=sites,
    )


# ---- the work queues in order ------------------------------------------------------------


@dataclass(frozen=True)
class QueueEntry:
    file_id: str
    priority: int
    failed: bool
    time: int
    file_size: int


def _entries(items: list[QueueItem]) -> list[QueueEntry]:
    return [QueueEntry(i.file_id, i.priority, i.failed, i.time, i.size) for i in items]


def _check_n(n: int) -> int:
    if not 1 <= n <= MAX_LIST:
        raise BadRequest(f"n: must be between 1 and {MAX_LIST}, got {n}")
    return n


def _need_hub(cfg: SyncConfig) -> None:
    if cfg.hub_name is None:
        raise NotFound("no hub is configured (apply a Hub manifest)")


def listup(tx: Tx, src: str, tgt: str, n: int, now: int) -> list[QueueEntry]:
    """The next `n` emissions from volume `src` to the hub `tgt`, in work order."""
    cfg = tx.config()
    _need_hub(cfg)
    if src not in cfg.volumes:
        raise NotFound(f"src: no volume named {src!r}")
    if tgt != cfg.hub_name:
        raise BadRequest(f"tgt: uploads go to the hub ({cfg.hub_name}), not {tgt!r}")
    return _entries(q.emission_queue(tx, tgt, src, _check_n(n), now))


def listdown(tx: Tx, src: str, tgt: str, n: int, now: int) -> list[QueueEntry]:
    """The next `n` receptions from the hub `src` on volume `tgt`, in work order."""
    cfg = tx.config()
    _need_hub(cfg)
    if src != cfg.hub_name:
        raise BadRequest(f"src: downloads come from the hub ({cfg.hub_name}), not {src!r}")
    if tgt not in cfg.volumes:
        raise NotFound(f"tgt: no volume named {tgt!r}")
    return _entries(q.reception_queue(tx, tgt, _check_n(n), now))


@dataclass(frozen=True)
class WorkerStatus:
    """One reconciler process (`workers` row) and the leases it holds now."""

    worker: str
    host: str
    pid: int
    started: int  # ms
    heartbeat: int  # ms
    jobs: list[str]
    leases: int
    alive: bool  # its heartbeat is younger than leaseSeconds


def worker_status(tx: Tx, now: int) -> list[WorkerStatus]:
    """Behind `spctl get workers`, the workers part of `spctl status`, `/api/workers`."""
    from reconciler.store import workers as w

    lease_ms = tx.config().globals.lease_seconds * 1000
    held = {h.owner: h.files for h in w.held(tx, now)}
    return [
        WorkerStatus(
            worker=r.id,
            host=r.host,
            pid=r.pid,
            started=r.started,
            heartbeat=r.heartbeat,
            jobs=[j for j in r.jobs.split(",") if j],
            leases=held.get(r.id, 0),
            alive=r.heartbeat >= now - lease_ms,
        )
        for r in w.list_workers(tx)
    ]
