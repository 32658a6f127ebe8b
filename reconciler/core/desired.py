"""Desired state (architecture.md#desired-state): which sites must hold a file, at which priority,
and its state.

Purely computational: `site_rows` takes a file document and the configuration and returns
the per-site rows the store keeps as its work-queue index. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from reconciler.core.config import SyncConfig, SyncTarget, VolumeConfig
from reconciler.core.domain import (
    SiteState,
    as_number,
    attempts_key,
    error_key,
    is_unreachable,
    last_attempt_key,
    sync_key,
    synced_key,
    syncing_key,
)


@dataclass(frozen=True)
class Decision:
    """Whether a site must hold a file, and the rule of architecture.md#desired-state that said
    so."""

    wanted: bool
    rule: str


class SiteRow(NamedTuple):
    file_id: str
    site: str
    wanted: bool
    state: SiteState
    pending: bool  # wanted here, not the origin, and the copy here is missing or outdated
    ready: bool  # its source has it: hub row -> always; volume row -> hub copy up to date
    failed: bool
    next_retry: int | None  # ms; None = no per-file wait
    priority: int
    time: int
    size: int
    origin: str | None
    removal: bool  # deleted at origin, held here, and this volume propagates deletions


def _num(doc: Mapping[str, Any], key: str) -> float | None:
    return as_number(doc.get(key))


# A document may hold any JSON number; its rows land in 64-bit columns (priority: 32-bit),
# and per-site byte counts add sizes up. Out-of-range values are clamped, not refused: a
# priority of 1e300 is the top priority, a time of 2**70 the far future.
MAX_MS = 2**62
MAX_PRIORITY = 2**31 - 1
MAX_SIZE = 2**44  # 16 TiB: above any real file, and 2**19 such files still sum below 2**63


def clamp(value: float, low: int, high: int) -> int:
    return int(max(low, min(high, value)))


def file_size(doc: Mapping[str, Any]) -> int:
    """The `size` of a file's rows: `file_size` as a whole number in [0, MAX_SIZE]."""
    return clamp(_number(doc.get("file_size")) or 0, 0, MAX_SIZE)


def file_priority(
    doc: Mapping[str, Any], cfg: SyncConfig, matching: Sequence[SyncTarget] | None = None
) -> int:
    own = _num(doc, "sync_priority")
    if own is None:
        if matching is None:
            matching = matching_targets(str(doc["_id"]), cfg)
        own = max(t.priority for t in matching) if matching else 0
    return clamp(own, -MAX_PRIORITY, MAX_PRIORITY)


def matching_targets(file_id: str, cfg: SyncConfig) -> list[SyncTarget]:
    return [t for t in cfg.targets if t.matches(file_id)]


def decide(
    doc: Mapping[str, Any],
    volume: VolumeConfig,
    cfg: SyncConfig,
    matching: Sequence[SyncTarget] | None = None,
) -> Decision:
    """architecture.md#desired-state for one (file, volume); `matching` = the SyncTargets matching
    the file, if known."""
    site = volume.name
    if doc.get("origin") == site:
        return Decision(True, "origin: the file was published or found here")
    if doc.get("deleted") is True:
        return Decision(False, "deleted: the file vanished from its origin")
    if not volume.receives:
        return Decision(False, f"volume {site} has reception disabled")
    own = doc.get(sync_key(site))
    if isinstance(own, bool):
        return Decision(own, f"per-file key {sync_key(site)}={str(own).lower()}")
    everywhere = doc.get("syncEverywhere")
    if isinstance(everywhere, bool):
        return Decision(everywhere, f"per-file key syncEverywhere={str(everywhere).lower()}")
    if matching is None:
        matching = matching_targets(str(doc["_id"]), cfg)
    if matching:
        names = ", ".join(f"synctarget/{t.name}" for t in matching)
        excluded = any(site in t.exclude_sites for t in matching)
        included = any(t.everywhere or site in t.sites for t in matching)
        return Decision(included and not excluded, f"{names} (matching SyncTargets)")
    default = cfg.globals.sync_everywhere
    return Decision(default, f"global syncEverywhere={str(default).lower()}")


def site_state(doc: Mapping[str, Any], site: str) -> SiteState:
    if doc.get("origin") == site and doc.get("deleted") is not True:
        return SiteState.SYNCED  # the origin holds the authoritative copy by definition
    if doc.get(syncing_key(site)) is not None:
        return SiteState.SYNCING
    if doc.get(error_key(site)) is not None:
        return SiteState.ERROR
    synced = _num(doc, synced_key(site))
    if synced is None:
        return SiteState.MISSING
    return SiteState.SYNCED if synced >= (_num(doc, "time") or 0) else SiteState.OUTDATED


def next_retry(doc: Mapping[str, Any], site: str, cfg: SyncConfig) -> int | None:
    """Per-file exponential backoff; unreachable-volume errors wait for the volume instead."""
    code = _num(doc, error_key(site))
    last = _num(doc, last_attempt_key(site))
    if code is None or last is None or is_unreachable(int(code)):
        return None
    attempts = max(1, int(_num(doc, attempts_key(site)) or 1))
    base = float(cfg.globals.retry_backoff_base)
    cap = float(cfg.globals.retry_backoff_max)
    delay = min(base * 2 ** (attempts - 1), cap)
    return clamp(last + delay * 1000, -MAX_MS, MAX_MS)


@lru_cache(maxsize=4096)
def _site_keys(site: str) -> tuple[str, str, str, str]:
    return synced_key(site), syncing_key(site), error_key(site), sync_key(site)


def _number(value: object) -> int | float | None:
    """`as_number` for the hot path (JSON gives exactly int, float or something else)."""
    kind = type(value)
    return value if kind is int or kind is float else None  # type: ignore[return-value]


def _wanted(
    get: Callable[[str], Any],
    volume: VolumeConfig,
    cfg: SyncConfig,
    matching: Sequence[SyncTarget],
    origin: str | None,
    deleted: bool,
) -> bool:
    """`decide(...).wanted` without building the rule text (same rules, same order)."""
    site = volume.name
    if origin == site:
        return True
    if deleted or not volume.receives:
        return False
    own = get(_site_keys(site)[3])
    if isinstance(own, bool):
        return own
    everywhere = get("syncEverywhere")
    if isinstance(everywhere, bool):
        return everywhere
    if matching:
        excluded = any(site in t.exclude_sites for t in matching)
        return not excluded and any(t.everywhere or site in t.sites for t in matching)
    return cfg.globals.sync_everywhere


def volume_scope(changed: Iterable[str], cfg: SyncConfig) -> str | None:
    """The one volume whose row alone can change when only `changed` keys change, if any.

    A volume's own keys (`sync_`, `synced_`, `syncing_`, `syncError_`, `syncLastAttempt_`,
    `syncAttempts_` + its name) are read by its row only: a reception's outcome changes one
    row per file. The hub's keys are not (its `synced_` makes every volume's row ready).
    """
    scope: str | None = None
    for key in changed:
        if key == "sync_priority":  # every row's priority, whatever the volume names
            return None
        prefix, _, site = key.partition("_")
        if prefix not in _OWN_KEY_PREFIXES or site not in cfg.volumes or site == cfg.hub_name:
            return None
        if scope is not None and site != scope:
            return None
        scope = site
    return scope


_OWN_KEY_PREFIXES = frozenset(
    k.partition("_")[0]
    for k in (sync_key("x"), synced_key("x"), syncing_key("x"), error_key("x"),
              last_attempt_key("x"), attempts_key("x"))
)  # fmt: skip


def site_rows(doc: Mapping[str, Any], cfg: SyncConfig, only: str | None = None) -> list[SiteRow]:
    """The per-site index rows of one file document (hub first, then volumes).

    Runs on every write of a file, so it reads each key once; `tests/domain` checks it
    against `decide`, `site_state` and `next_retry` on generated documents. `only` = a
    volume: that volume's row alone (see `volume_scope`).
    """
    get = doc.get
    file_id = str(doc["_id"])
    time_value = _number(get("time")) or 0
    time = int(time_value)
    size = file_size(doc)
    stored_time = clamp(time, -MAX_MS, MAX_MS)
    raw_origin = get("origin")
    origin = raw_origin if isinstance(raw_origin, str) else None
    deleted = get("deleted") is True
    matching = matching_targets(file_id, cfg) if cfg.targets else []
    priority = file_priority(doc, cfg, matching)
    rows: list[SiteRow] = []

    def row(site: str, wanted: bool, ready: bool, removal: bool = False) -> SiteRow:
        synced_k, syncing_k, error_k, _ = _site_keys(site)
        synced = _number(get(synced_k))
        error = get(error_k)
        if site == origin and not deleted:
            state = SiteState.SYNCED
        elif get(syncing_k) is not None:
            state = SiteState.SYNCING
        elif error is not None:
            state = SiteState.ERROR
        elif synced is None:
            state = SiteState.MISSING
        else:
            state = SiteState.SYNCED if synced >= time_value else SiteState.OUTDATED
        # not pending when up to date: an error or syncing key may be stale
        pending = wanted and site != origin and not (synced is not None and synced >= time)
        failed = error is not None
        retry = next_retry(doc, site, cfg) if failed else None
        return SiteRow(
            file_id, site, wanted, state, pending, ready, failed, retry, priority, stored_time,
            size, origin, removal,
        )  # fmt: skip

    hub = cfg.hub_name
    if hub is not None:
        if only is None:
            rows.append(row(hub, wanted=origin is not None and not deleted, ready=True))
        hub_synced = _number(get(_site_keys(hub)[0]))
    else:
        hub_synced = None
    hub_ready = hub_synced is not None and hub_synced >= time
    volumes = cfg.volumes.items() if only is None else [(only, cfg.volumes[only])]
    for name, volume in volumes:
        wanted = _wanted(get, volume, cfg, matching, origin, deleted)
        synced_k, syncing_k, error_k, _ = _site_keys(name)
        held = get(synced_k) is not None
        removal = (
            deleted
            and name != origin
            and _number(get(synced_k)) is not None
            and volume.propagate_deletions
        )
        if (
            wanted
            or removal
            or held
            or get(syncing_k) is not None
            or get(error_k) is not None
            or name == origin
        ):
            rows.append(row(name, wanted, hub_ready, removal))
    return rows
