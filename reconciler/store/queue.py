"""Work queues and per-site aggregates, read from the maintained `file_sites` rows.

The queries here are the indexed ones of architecture.md#performance: they walk the partial indexes
over pending rows in work order (priority first, untried before failed, oldest first), so they cost
milliseconds whether nothing or everything is pending. Claims are leases on rows, so several workers
never move the same (file, site) at once and a dead worker's claims expire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from reconciler.core.planning import QueueItem
from reconciler.store import sql
from reconciler.store.schema import file_sites, site_counts

if TYPE_CHECKING:
    from reconciler.store.documents import Tx

_WORK_ORDER = (file_sites.c.priority.desc(), file_sites.c.failed, file_sites.c.time)


def _select_items() -> sa.Select[Any]:
    c = file_sites.c
    return sa.select(c.file_id, c.site, c.priority, c.failed, c.time, c.size)


def _due(now: int, *, honour_backoff: bool = True) -> sa.ColumnElement[bool]:
    c = file_sites.c
    lease_free = sa.or_(c.lease_until.is_(None), c.lease_until < now)
    if not honour_backoff:
        return lease_free
    return sa.and_(lease_free, sa.or_(c.next_retry.is_(None), c.next_retry <= now))


def _items(rows: Sequence[sa.Row[Any]]) -> list[QueueItem]:
    out = []
    for row in rows:
        file_id, site, priority, failed, time, size = tuple(row)
        out.append(QueueItem(file_id, site, int(priority), bool(failed), int(time), int(size)))
    return out


def reception_queue(
    tx: Tx, site: str, limit: int, now: int, *, honour_backoff: bool = True
) -> list[QueueItem]:
    """Files wanted on `site` whose hub copy is up to date and whose copy here is not."""
    c = file_sites.c
    query = (
        _select_items()
        .where(
            c.site == site, c.pending == 1, c.ready == 1, _due(now, honour_backoff=honour_backoff)
        )
        .order_by(*_WORK_ORDER)
        .limit(limit)
    )
    return _items(tx.conn.execute(query).all())


def emission_queue(
    tx: Tx,
    hub: str,
    origin: str,
    limit: int,
    now: int,
    *,
    honour_backoff: bool = True,
) -> list[QueueItem]:
    """Files whose origin is `origin` and whose hub copy is missing or outdated."""
    c = file_sites.c
    query = (
        _select_items()
        .where(
            c.site == hub,
            c.origin == origin,
            c.pending == 1,
            _due(now, honour_backoff=honour_backoff),
        )
        .order_by(*_WORK_ORDER)
        .limit(limit)
    )
    return _items(tx.conn.execute(query).all())


def removal_queue(tx: Tx, site: str, limit: int) -> list[str]:
    """Deleted files still held on `site`, a volume that propagates deletions."""
    c = file_sites.c
    query = sa.select(c.file_id).where(c.site == site, c.removal == 1).order_by(c.file_id)
    return [r[0] for r in tx.conn.execute(query.limit(limit))]


def claim(
    tx: Tx, site: str, file_ids: Sequence[str], owner: str, now: int, until: int
) -> list[str]:
    """Lease rows to `owner`; return the ids this call actually claimed.

    The conditional UPDATE is the claim: under concurrency a row is taken by one worker
    only (PostgreSQL re-checks the lease condition after waiting for a row lock).
    """
    if not file_ids:
        return []
    clause, params = sql.in_ids(tx.conn, file_ids)
    sql.execute(
        tx.conn,
        "UPDATE file_sites SET lease_until = :until, lease_owner = :owner WHERE site = :site "
        f"AND (lease_until IS NULL OR lease_until < :now) AND file_id{clause}",
        {"until": until, "owner": owner, "site": site, "now": now, **params},
    )
    got = sql.execute(
        tx.conn,
        "SELECT file_id FROM file_sites WHERE site = :site AND lease_owner = :owner "
        f"AND lease_until = :until AND file_id{clause}",
        {"site": site, "owner": owner, "until": until, **params},
    )
    claimed = {r[0] for r in got}
    return [f for f in file_ids if f in claimed]


def release(tx: Tx, site: str, file_ids: Sequence[str], owner: str) -> None:
    if file_ids:
        clause, params = sql.in_ids(tx.conn, file_ids)
        sql.execute(
            tx.conn,
            "UPDATE file_sites SET lease_until = NULL, lease_owner = NULL "
            f"WHERE site = :site AND lease_owner = :owner AND file_id{clause}",
            {"site": site, "owner": owner, **params},
        )


@dataclass(frozen=True)
class SiteCounts:
    files: dict[str, int]  # state -> count, wanted rows only
    bytes: dict[str, int]


def counts(tx: Tx) -> dict[str, SiteCounts]:
    """Files and bytes per site and state (wanted copies), from the maintained counters."""
    out: dict[str, SiteCounts] = {}
    for site, state, files, size in tx.conn.execute(sa.select(site_counts)):
        entry = out.setdefault(site, SiteCounts({}, {}))
        entry.files[state] = int(files)
        entry.bytes[state] = int(size)
    return out


def oldest_pending(tx: Tx, site: str) -> int | None:
    """`time` (ms) of the oldest pending file on `site`, through the partial index."""
    c = file_sites.c
    row = tx.conn.execute(
        sa.select(c.time).where(c.site == site, c.pending == 1).order_by(c.time).limit(1)
    ).first()
    return int(row[0]) if row else None


def lane_position(
    tx: Tx,
    site: str,
    item: QueueItem,
    *,
    origin: str | None = None,
    ready_only: bool = False,
) -> tuple[int, int]:
    """(files, bytes) ahead of `item` in work order among the pending rows of `site`, narrowed
    to the rows one job takes (emission: the hub rows of one `origin`; reception:
    `ready_only`)."""
    c = file_sites.c
    ahead = sa.or_(
        c.priority > item.priority,
        sa.and_(c.priority == item.priority, c.failed < int(item.failed)),
        sa.and_(c.priority == item.priority, c.failed == int(item.failed), c.time < item.time),
    )
    where = [c.site == site, c.pending == 1, ahead]
    if origin is not None:
        where.append(c.origin == origin)
    if ready_only:
        where.append(c.ready == 1)
    row = tx.conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(c.size), 0)).where(*where)
    ).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def renew(tx: Tx, site: str, file_ids: Sequence[str], owner: str, until: int) -> None:
    """Extend `owner`'s leases (a long transfer keeps its claim while it runs)."""
    c = file_sites.c
    if file_ids:
        tx.conn.execute(
            file_sites.update()
            .where(c.site == site, c.file_id.in_(list(file_ids)), c.lease_owner == owner)
            .values(lease_until=until)
        )


def stale_syncing(
    tx: Tx, now: int, limit: int, *, pending_only: bool = True
) -> list[tuple[str, str]]:
    """(file, site) rows still marked syncing whose lease is gone: a worker died mid-batch.

    `pending_only` walks the pending index (cheap, for periodic cleaning); False scans
    every row once (at start-up) to also catch files no longer wanted.
    """
    c = file_sites.c
    where = [c.state == "syncing", sa.or_(c.lease_until.is_(None), c.lease_until < now)]
    if pending_only:
        where.append(c.pending == 1)
    rows = tx.conn.execute(sa.select(c.file_id, c.site).where(*where).limit(limit))
    return [(r[0], r[1]) for r in rows]


def failed_since(
    tx: Tx, site: str, *, origin: str | None, since: int | None, limit: int
) -> list[str]:
    """Up to `limit` pending files of `site` (from `origin` only, when given) whose last
    attempt failed with a per-file retry time after `since` (None: any)."""
    c = file_sites.c
    query = sa.select(c.file_id).where(
        c.site == site, c.pending == 1, c.failed == 1, c.next_retry.is_not(None)
    )
    if origin is not None:
        query = query.where(c.origin == origin)
    if since is not None:
        query = query.where(c.next_retry > since)  # next_retry >= last attempt
    return [r[0] for r in tx.conn.execute(query.limit(limit))]
