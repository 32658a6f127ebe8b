"""Why is this file (not yet) on that site? `explain(tx, path, site, now)` answers.

For each site it gives the rule of architecture.md#desired-state that decided (through
`reconciler.core.desired.decide`, the very function the store's queues are derived with), the copy's
state, the lane it moves in (emission origin -> hub, reception hub -> volume), its place in that
lane (files and bytes ahead, from the partial indexes), whether it waits for the hub copy, the last
error and the next retry, and whether the volume is down or disabled. `summarize` turns that into
one sentence; it is pure, so its wording is tested with data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reconciler.core.config import SyncConfig
from reconciler.core.desired import SiteRow, site_rows
from reconciler.core.domain import (
    Direction,
    SiteState,
    error_key,
    is_unreachable,
    last_attempt_key,
    synced_key,
    syncing_key,
)
from reconciler.core.humanize import human_bytes, iso_time
from reconciler.core.planning import QueueItem
from reconciler.services.status import (
    NotFound,
    exit_code_text,
    load_file,
    ms_value,
    reachable,
    wanted_on,
)
from reconciler.store import Tx
from reconciler.store import queue as q


@dataclass(frozen=True)
class Explanation:
    site: str
    role: str  # hub | volume
    wanted: bool
    rule: str
    state: str
    origin: str | None
    direction: str  # the lane that brings the copy here
    pending: bool
    waiting_for_hub: bool
    queue_position: int | None  # 1 = next in its lane
    files_ahead: int | None
    bytes_ahead: int | None
    syncing_since: int | None
    synced: int | None
    last_error: int | None
    last_error_text: str | None
    last_attempt: int | None
    next_retry: int | None
    volume: str | None  # the volume this lane reads from (emission) or writes to (reception)
    volume_reachable: bool | None
    volume_enabled: bool
    summary: str


def explain(tx: Tx, path: str, site: str | None = None, *, now: int) -> list[Explanation]:
    """One explanation per site (hub first), or only for `site`."""
    doc = load_file(tx, path)
    cfg = tx.config()
    if site is not None and site not in cfg.sites:
        raise NotFound(f"site: no hub or volume named {site!r}")
    rows = {r.site: r for r in site_rows(doc, cfg)}
    origin = doc["origin"] if isinstance(doc.get("origin"), str) else None
    out = []
    for name in [site] if site is not None else list(cfg.sites):
        wanted, rule = wanted_on(doc, name, cfg)
        is_hub = name == cfg.hub_name
        row = rows.get(name)
        # The volume this copy depends on: the origin for the hub copy, else the site itself.
        volume = origin if is_hub else name
        vdoc = tx.get(f"volume/{volume}") if volume else None
        vcfg = cfg.volumes.get(volume) if volume else None
        enabled = vcfg is not None and (vcfg.emits if is_hub else vcfg.receives)
        position = _position(tx, cfg, row, origin) if row and row.pending else None
        waiting = bool(row and row.pending and not is_hub and not row.ready)
        code = ms_value(doc, error_key(name))
        e = Explanation(
            site=name,
            role="hub" if is_hub else "volume",
            wanted=wanted,
            rule=rule,
            state=row.state.value if row else SiteState.MISSING.value,
            origin=origin,
            direction=(Direction.EMISSION if is_hub else Direction.RECEPTION).value,
            pending=bool(row and row.pending),
            waiting_for_hub=waiting,
            queue_position=position[0] + 1 if position else None,
            files_ahead=position[0] if position else None,
            bytes_ahead=position[1] if position else None,
            syncing_since=ms_value(doc, syncing_key(name)),
            synced=ms_value(doc, synced_key(name)),
            last_error=code,
            last_error_text=exit_code_text(code) if code is not None else None,
            last_attempt=ms_value(doc, last_attempt_key(name)),
            next_retry=row.next_retry if row else None,
            volume=volume,
            volume_reachable=reachable(vdoc) if vdoc else None,
            volume_enabled=enabled,
            summary="",
        )
        out.append(_with_summary(e, cfg, now, hub_row=rows.get(cfg.hub_name or "")))
    return out


def _position(tx: Tx, cfg: SyncConfig, row: SiteRow, origin: str | None) -> tuple[int, int] | None:
    item = QueueItem(row.file_id, row.site, row.priority, row.failed, row.time, row.size)
    if row.site == cfg.hub_name:
        return q.lane_position(tx, row.site, item, origin=origin) if origin else None
    if not row.ready:
        return None
    return q.lane_position(tx, row.site, item, ready_only=True)


def _with_summary(
    e: Explanation, cfg: SyncConfig, now: int, hub_row: SiteRow | None
) -> Explanation:
    return replace(e, summary=summarize(e, now=now, hub=cfg.hub_name, hub_row=hub_row))


def summarize(e: Explanation, *, now: int, hub: str | None, hub_row: SiteRow | None = None) -> str:
    """One sentence an operator can act on. Purely computational."""
    if not e.wanted:
        held = " (a copy is still there)" if e.synced is not None else ""
        return f"not wanted on {e.site}{held}: {e.rule}"
    if e.origin == e.site:
        return f"{e.site} is the origin: the authoritative copy is there"
    if not e.pending:
        return f"synced on {e.site} at {iso_time(e.synced)} (wanted: {e.rule})"
    parts = [f"{e.state} on {e.site} (wanted: {e.rule})"]
    if not e.volume_enabled:
        what = "emission" if e.role == "hub" else "reception"
        parts.append(f"volume {e.volume} has {what} disabled: nothing moves until it is enabled")
    if e.volume_reachable is False:
        parts.append(f"volume {e.volume} is unreachable: retried as soon as it answers")
    if e.syncing_since is not None:
        parts.append(f"transfer in progress since {iso_time(e.syncing_since)}")
    if e.waiting_for_hub:
        hub_state = hub_row.state.value if hub_row else "missing"
        parts.append(f"waiting for the hub copy ({hub} is {hub_state}; it comes from {e.origin})")
    elif e.queue_position == 1:
        parts.append(f"next in the {e.direction} queue of {e.site}")
    elif e.queue_position is not None:
        files = f"{e.files_ahead} file{'s' if e.files_ahead != 1 else ''}"
        parts.append(
            f"position {e.queue_position} in the {e.direction} queue of {e.site} "
            f"({files}, {human_bytes(e.bytes_ahead or 0)} ahead)"
        )
    if e.last_error is not None:
        parts.append(
            f"last attempt failed at {iso_time(e.last_attempt)} with exit {e.last_error} "
            f"({e.last_error_text})"
        )
        if is_unreachable(e.last_error):
            if e.volume_reachable is not False:
                parts.append("the volume was unreachable: retried at once now that it answers")
        elif e.next_retry is not None and e.next_retry > now:
            parts.append(f"next retry at {iso_time(e.next_retry)}")
        else:
            parts.append("due for retry now")
    return "; ".join(parts)
