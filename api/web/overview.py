"""The sites panel of the web page: the hub and each volume, reachable or not, with backlog.

Reads the configuration objects (the status keys the reconciler writes on them:
architecture.md#the-loop; reachability is decided as for `spctl status`) and the maintained per-site
counters, never the file rows themselves, so it costs the same for ten files or a million.
`site_status` is the pure part: the colour an operator sees. Each site also carries its last hour
(`api.web.activity`: throughput and backlog per minute) for the panel's small charts.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from api.secrets import redact_config
from api.web.activity import last_hour
from reconciler.core.domain import HUB_PREFIX, VOLUME_PREFIX, SiteState, as_number
from reconciler.services.status import reachable
from reconciler.store import Tx
from reconciler.store.queue import counts, oldest_pending

PHASES = ("scan", "emission", "reception")


class SiteStatus(StrEnum):
    OK = "ok"  # green
    ERROR = "error"  # red: unreachable, files in error or a failed last run
    DISABLED = "disabled"  # grey
    UNKNOWN = "unknown"  # not contacted yet


def site_status(
    doc: Mapping[str, Any], *, enabled: bool, errors: int, up: bool | None
) -> SiteStatus:
    if not enabled:
        return SiteStatus.DISABLED
    failed_run = any(_exit(doc, phase) not in (None, 0) for phase in PHASES)
    if up is False or errors > 0 or failed_run:
        return SiteStatus.ERROR
    return SiteStatus.UNKNOWN if up is None else SiteStatus.OK


def _exit(doc: Mapping[str, Any], phase: str) -> int | None:
    value = as_number(doc.get(f"exit_{phase}"))
    return int(value) if value is not None else None


def _site(
    tx: Tx,
    name: str,
    doc: Mapping[str, Any],
    *,
    hub: bool,
    enabled: bool,
    discovery: bool,
    files: Mapping[str, int],
    size: Mapping[str, int],
) -> dict[str, Any]:
    pending_states = [s.value for s in SiteState if s is not SiteState.SYNCED]
    errors = files.get(SiteState.ERROR.value, 0)
    up = reachable(doc, hub=hub)
    return {
        "name": name,
        "hub": hub,
        "url": doc.get("url"),
        "enabled": enabled,
        "discovery": discovery,
        "reachable": up,
        "status": site_status(doc, enabled=enabled, errors=errors, up=up).value,
        "files": {s.value: files.get(s.value, 0) for s in SiteState},
        "backlogFiles": sum(files.get(s, 0) for s in pending_states),
        "backlogBytes": sum(size.get(s, 0) for s in pending_states),
        "oldestPending": oldest_pending(tx, name),
        "last": {phase: as_number(doc.get(f"last_{phase}")) for phase in PHASES},
        "exit": {phase: _exit(doc, phase) for phase in PHASES},
        "stderr": {phase: doc.get(f"stderr_{phase}") for phase in PHASES},
        "lastConnectionSuccess": as_number(doc.get("lastConnectionSuccess")),
    }


def overview(tx: Tx, *, now_ms: int, admin: bool = True) -> list[dict[str, Any]]:
    """The hub first, then the volumes by name; below admin, their secrets redacted (the ssh
    user of `url` and of the messages: `api.secrets`). `now_ms` ends the charts' hour."""
    cfg = tx.config()
    per_site = counts(tx)
    out: list[dict[str, Any]] = []
    names = ([(cfg.hub.name, True)] if cfg.hub else []) + [(v, False) for v in sorted(cfg.volumes)]
    docs = tx.get_many([(HUB_PREFIX if hub else VOLUME_PREFIX) + name for name, hub in names])
    for (name, hub), doc in zip(names, docs, strict=True):
        c = per_site.get(name)
        enabled = True if hub else cfg.volumes[name].enabled
        scans = cfg.globals.enable_scans
        discovery = not hub and scans and cfg.volumes[name].enable_discovery
        out.append(
            _site(
                tx,
                name,
                (doc if admin else redact_config(doc)) if doc else {},
                hub=hub,
                enabled=enabled,
                discovery=discovery,
                files=c.files if c else {},
                size=c.bytes if c else {},
            )
        )
    backlog = {s["name"]: (s["backlogFiles"], s["backlogBytes"]) for s in out}
    hour = last_hour(tx, backlog, now_ms)
    return [{**s, "activity": hour[s["name"]]} for s in out]
