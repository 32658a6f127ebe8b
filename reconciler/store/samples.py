"""Per-site activity history: one small row per site and minute, kept for a day.

`site_counts` says where each site stands now; the web page also charts the last hour. Each
write transaction that moves a site's backlog (its wanted copies not synced) or delivers a
copy there records, in the same transaction as the `site_counts` deltas (`Tx._apply_counts`):
- the copies that became synced on the site during that minute, and their bytes (a copy
  delivered by a reception, the hub's copy by an emission, a copy a scan found in place);
- the site's backlog (files, bytes) as `site_counts` holds it after the write.
The backlog only changes through such writes, so a minute without a row kept the value of
the last row before it. Rows older than `RETENTION_MS` are pruned as each site's rows are
written, except each site's newest older row: it holds the value that still applies.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from reconciler.core.domain import SiteState
from reconciler.store import sql
from reconciler.store.schema import site_samples

if TYPE_CHECKING:
    from reconciler.store.documents import Tx

MINUTE_MS = 60_000
RETENTION_MS = 24 * 3600 * 1000
BACKLOG_STATES = tuple(s.value for s in SiteState if s is not SiteState.SYNCED)


@dataclass(frozen=True)
class Sample:
    site: str
    minute: int
    delivered_files: int
    delivered_bytes: int
    backlog_files: int
    backlog_bytes: int


def minute_of(now_ms: int) -> int:
    return now_ms - now_ms % MINUTE_MS


def record(
    conn: sa.Connection,
    sites: Collection[str],
    delivered: Mapping[str, tuple[int, int]],
    now_ms: int,
) -> None:
    """Write this minute's row of each of `sites` (backlog read back from `site_counts`),
    adding `delivered` (site -> files, bytes); then prune those sites' old rows."""
    if not sites:
        return
    names = sorted(sites)
    site_in, site_params = sql.in_ids(conn, names, "sites")
    state_in, state_params = sql.in_ids(conn, BACKLOG_STATES, "states")
    backlog = {
        site: (int(files), int(size))
        for site, files, size in sql.execute(
            conn,
            f"SELECT site, SUM(files), SUM(bytes) FROM site_counts "
            f"WHERE state{state_in} AND site{site_in} GROUP BY site",
            {**state_params, **site_params},
        )
    }
    minute = minute_of(now_ms)
    rows = []
    for site in names:
        files, size = delivered.get(site, (0, 0))
        rows.append((site, minute, files, size, *backlog.get(site, (0, 0))))
    sql.execute_many(
        conn,
        "INSERT INTO site_samples (site, minute, delivered_files, delivered_bytes, "
        "backlog_files, backlog_bytes) VALUES (:site, :minute, :files, :bytes, :backlog_files, "
        ":backlog_bytes) "
        "ON CONFLICT (site, minute) DO UPDATE SET "
        "delivered_files = site_samples.delivered_files + excluded.delivered_files, "
        "delivered_bytes = site_samples.delivered_bytes + excluded.delivered_bytes, "
        "backlog_files = excluded.backlog_files, backlog_bytes = excluded.backlog_bytes",
        rows,
    )
    cutoff = minute - RETENTION_MS
    # Through the primary key (site, minute): usually finds nothing to delete.
    sql.execute_many(
        conn,
        "DELETE FROM site_samples WHERE site = :site AND minute < :cutoff AND minute < "
        "(SELECT MAX(minute) FROM site_samples WHERE site = :site AND minute < :cutoff)",
        [(site, cutoff) for site in names],
    )


def _sample(row: sa.Row[Any]) -> Sample:
    return Sample(
        str(row.site), int(row.minute), int(row.delivered_files), int(row.delivered_bytes),
        int(row.backlog_files), int(row.backlog_bytes),
    )  # fmt: skip


def since(tx: Tx, sites: Sequence[str], start_ms: int) -> dict[str, list[Sample]]:
    """Per site: its rows from `start_ms` on (oldest first), preceded by the last row before
    `start_ms` when there is one (the value in force when the window opens)."""
    c = site_samples.c
    out: dict[str, list[Sample]] = {}
    for site in sites:
        before = tx.conn.execute(
            sa.select(site_samples)
            .where(c.site == site, c.minute < start_ms)
            .order_by(c.minute.desc())
            .limit(1)
        ).first()
        rows = tx.conn.execute(
            sa.select(site_samples).where(c.site == site, c.minute >= start_ms).order_by(c.minute)
        ).all()
        out[site] = [_sample(r) for r in ([before] if before else []) + list(rows)]
    return out
