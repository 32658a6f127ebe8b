"""The `applied` table: the ids `spctl apply` owns (it may prune them), and the lock that
runs one apply at a time on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from reconciler.core.domain import NodeKind
from reconciler.store.documents import Tx
from reconciler.store.schema import applied, nodes

# Any constant: the PostgreSQL advisory lock that lets one apply run at a time.
_APPLY_LOCK = 0x5F1A_0001


def owned(tx: Tx) -> set[str]:
    """The ids apply owns."""
    return {row[0] for row in tx.conn.execute(sa.select(applied.c.id))}


def own(tx: Tx, ids: Iterable[str], now: int) -> None:
    rows = [{"id": i, "applied_at": now} for i in ids]
    if rows:
        tx.conn.execute(applied.insert(), rows)


def disown(tx: Tx, ids: Sequence[str]) -> None:
    if ids:
        tx.conn.execute(applied.delete().where(applied.c.id.in_(list(ids))))


def lock_for_apply(tx: Tx, users: Sequence[str]) -> None:
    """PostgreSQL: wait for any other apply (an advisory lock held to the end of the
    transaction), then lock every configuration object and the `users` ids (no concurrent
    write lost on the rows apply rewrites). SQLite: nothing (BEGIN IMMEDIATE serializes)."""
    if tx.dialect != "postgresql":
        return
    tx.conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPLY_LOCK})
    tx.conn.execute(
        sa.select(nodes.c.id)
        .where(sa.or_(nodes.c.kind == NodeKind.CONFIG.value, nodes.c.id.in_(list(users))))
        .with_for_update()
    )
