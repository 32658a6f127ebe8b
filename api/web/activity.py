"""The last hour of each site for the sites panel: throughput and backlog, minute by minute.

Read from the per-minute samples the store writes with its counters
(`reconciler.store.samples`). `series` is the pure part: a minute without a sample delivered
nothing and kept the backlog of the sample before it. Before a site's first sample its
backlog was 0 (the migration that created the samples recorded every backlog then, and a
site added later had no files before); a site without any sample has had its current
backlog all along.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.store import Tx
from reconciler.store import samples as store_samples
from reconciler.store.samples import MINUTE_MS, Sample

WINDOW_MINUTES = 60


@dataclass(frozen=True)
class Series:
    start: int  # ms of the first minute
    delivered_files: list[int]
    delivered_bytes: list[int]
    backlog_files: list[int]
    backlog_bytes: list[int]

    def as_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "step": MINUTE_MS,
            "deliveredFiles": self.delivered_files,
            "deliveredBytes": self.delivered_bytes,
            "backlogFiles": self.backlog_files,
            "backlogBytes": self.backlog_bytes,
        }


def window_start(now_ms: int, minutes: int = WINDOW_MINUTES) -> int:
    """The first minute of the window whose last minute holds `now_ms`."""
    return store_samples.minute_of(now_ms) - (minutes - 1) * MINUTE_MS


def series(
    rows: Sequence[Sample],
    *,
    current: tuple[int, int],
    now_ms: int,
    minutes: int = WINDOW_MINUTES,
) -> Series:
    """One value per minute of the window ending at `now_ms`; `rows` oldest first (the first
    may be older than the window: the value in force when it opens); `current` = the backlog
    (files, bytes) now."""
    start = window_start(now_ms, minutes)
    by_minute = {r.minute: r for r in rows if r.minute >= start}
    earlier = [r for r in rows if r.minute < start]
    if earlier:
        level = (earlier[-1].backlog_files, earlier[-1].backlog_bytes)
    else:
        level = (0, 0) if rows else current
    out = Series(start, [], [], [], [])
    for i in range(minutes):
        row = by_minute.get(start + i * MINUTE_MS)
        if row is not None:
            level = (row.backlog_files, row.backlog_bytes)
        out.delivered_files.append(row.delivered_files if row else 0)
        out.delivered_bytes.append(row.delivered_bytes if row else 0)
        out.backlog_files.append(level[0])
        out.backlog_bytes.append(level[1])
    return out


def last_hour(
    tx: Tx, backlog: dict[str, tuple[int, int]], now_ms: int
) -> dict[str, dict[str, Any]]:
    """The series of each site of `backlog` (site -> its backlog now), as JSON."""
    found = store_samples.since(tx, list(backlog), window_start(now_ms))
    return {
        site: series(found.get(site, []), current=now, now_ms=now_ms).as_json()
        for site, now in backlog.items()
    }
