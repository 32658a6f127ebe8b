"""The `workers` rows and the leases they own (architecture.md#scale-out, issue 12: fast takeover).

A reconciler process registers a row (host, boot id, pid, process start time), renews it and
every lease it holds on each heartbeat, and removes it when it stops. Whether an owner on this
host is alive is a question for the caller (`reconciler.jobs.workers`): this module only reads and
writes rows. The leased rows are found through `ix_fs_lease` (migration 0008).

Single-run jobs (a volume's scan, deletion propagation, trash purge, digests) are claimed
in `job_claims` the same way (`claim_job`): with N workers each runs once per period, and a
claim dies with its owner's leases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from reconciler.store import sql
from reconciler.store.schema import file_sites, job_claims, workers

if TYPE_CHECKING:
    from reconciler.store.documents import Tx


@dataclass(frozen=True)
class WorkerRow:
    id: str
    host: str
    boot_id: str
    pid: int
    proc_start: int
    started: int  # ms
    heartbeat: int  # ms
    jobs: str = ""  # running job ids, comma-separated


@dataclass(frozen=True)
class Held:
    """Pending (file, site) rows leased to one owner: how many, and until when."""

    owner: str
    files: int
    until: int  # ms, the latest lease end


def _row(r: sa.Row[Any]) -> WorkerRow:
    c = dict(r._mapping)
    return WorkerRow(
        id=c["id"],
        host=c["host"],
        boot_id=c["boot_id"],
        pid=int(c["pid"]),
        proc_start=int(c["proc_start"]),
        started=int(c["started"]),
        heartbeat=int(c["heartbeat"]),
        jobs=c["jobs"] or "",
    )


def release_owner(tx: Tx, owner: str) -> int:
    """Drop every lease of `owner` (a dead process, or a new one reusing its id)."""
    c = file_sites.c
    tx.conn.execute(
        job_claims.update()
        .where(job_claims.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )
    result = tx.conn.execute(
        file_sites.update().where(c.lease_owner == owner).values(lease_owner=None, lease_until=None)
    )
    return int(result.rowcount or 0)


def register(tx: Tx, me: WorkerRow) -> int:
    """Write `me`'s row; leases still under its id from another process are released."""
    c = workers.c
    same = tx.conn.execute(
        sa.select(c.id).where(
            c.id == me.id, c.host == me.host, c.pid == me.pid, c.proc_start == me.proc_start
        )
    ).first()
    released = 0 if same else release_owner(tx, me.id)
    tx.conn.execute(workers.delete().where(c.id == me.id))
    tx.conn.execute(workers.insert().values(**me.__dict__))
    return released


def unregister(tx: Tx, worker_id: str) -> None:
    release_owner(tx, worker_id)
    tx.conn.execute(workers.delete().where(workers.c.id == worker_id))


def beat(tx: Tx, worker_id: str, *, now: int, lease_until: int, jobs: str) -> int:
    """Renew the worker's row and every lease it holds; return how many leases it holds."""
    c = file_sites.c
    tx.conn.execute(
        workers.update().where(workers.c.id == worker_id).values(heartbeat=now, jobs=jobs)
    )
    tx.conn.execute(
        job_claims.update()
        .where(job_claims.c.lease_owner == worker_id)
        .values(lease_until=lease_until)
    )
    result = tx.conn.execute(
        file_sites.update()
        .where(c.lease_owner == worker_id, c.lease_until.is_not(None))
        .values(lease_until=lease_until)
    )
    return int(result.rowcount or 0)


def claim_job(tx: Tx, job_id: str, owner: str, *, now: int, period_ms: int, until: int) -> bool:
    """Take one run of `job_id` if nobody holds it and its last run started `period_ms` ago.

    The conditional UPDATE is the claim, as for transfers: one worker wins the row.
    """
    sql.execute(
        tx.conn,
        "INSERT INTO job_claims (id) VALUES (:id) ON CONFLICT (id) DO NOTHING",
        {"id": job_id},
    )
    c = job_claims.c
    result = tx.conn.execute(
        job_claims.update()
        .where(
            c.id == job_id,
            sa.or_(c.lease_until.is_(None), c.lease_until < now),
            sa.or_(c.last_run.is_(None), c.last_run <= now - period_ms),
        )
        .values(lease_owner=owner, lease_until=until, last_run=now)
    )
    return bool(result.rowcount)


def finish_job(tx: Tx, job_id: str, owner: str) -> None:
    c = job_claims.c
    tx.conn.execute(
        job_claims.update()
        .where(c.id == job_id, c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


def reclaim_dead(
    tx: Tx,
    me: WorkerRow,
    alive: Callable[[WorkerRow], bool],
    *,
    forget_before: int,
) -> dict[str, int]:
    """Release the leases of owners on this host that are gone; return owner -> leases freed.

    An owner on this host is dead when the host rebooted since (another boot id) or `alive`
    says its process is gone. Owners on other hosts keep their leases until they expire;
    their rows are forgotten once their heartbeat is older than `forget_before` (ms).
    """
    freed: dict[str, int] = {}
    for row in list_workers(tx):
        if row.id == me.id:
            continue
        if row.host == me.host and (row.boot_id != me.boot_id or not alive(row)):
            freed[row.id] = release_owner(tx, row.id)
            tx.conn.execute(workers.delete().where(workers.c.id == row.id))
        elif row.heartbeat < forget_before:
            tx.conn.execute(workers.delete().where(workers.c.id == row.id))
    return freed


def list_workers(tx: Tx) -> list[WorkerRow]:
    return [_row(r) for r in tx.conn.execute(sa.select(workers).order_by(workers.c.started))]


def held(tx: Tx, now: int) -> list[Held]:
    """Live leases by owner (through `ix_fs_lease`: only the leased rows are read)."""
    c = file_sites.c
    query = (
        sa.select(c.lease_owner, sa.func.count(), sa.func.max(c.lease_until))
        .where(c.lease_owner.is_not(None), c.lease_until >= now)
        .group_by(c.lease_owner)
        .order_by(c.lease_owner)
    )
    return [Held(str(o), int(n), int(u)) for o, n, u in tx.conn.execute(query)]


def waiting_for_retry(tx: Tx, now: int) -> tuple[int, int | None]:
    """(count, earliest retry time) of pending rows whose next attempt is in the future."""
    c = file_sites.c
    row = tx.conn.execute(
        sa.select(sa.func.count(), sa.func.min(c.next_retry)).where(
            c.pending == 1,
            c.next_retry > now,
            sa.or_(c.lease_until.is_(None), c.lease_until < now),
        )
    ).first()
    if row is None or not row[0]:
        return 0, None
    return int(row[0]), int(row[1])
