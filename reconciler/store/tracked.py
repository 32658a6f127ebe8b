"""The reads of a volume scan (`reconciler.jobs.scan.tracked`): a few keys of every file
document, in `_id` byte order, and two small indexed questions.

The order is byte order on both stores, the order of the remote `LC_ALL=C sort`: SQLite
compares text with memcmp, and PostgreSQL is told `COLLATE "C"` whatever the database's
collation. SQLite pages are read through the DB-API cursor (this runs per file per scan);
PostgreSQL's one query through a server-side cursor.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from reconciler.core.domain import NodeKind
from reconciler.store import Store, sql
from reconciler.store.documents import Tx
from reconciler.store.schema import nodes


def sqlite_page(
    tx: Tx,
    columns: Sequence[str],
    keys: Sequence[str],
    flags: Sequence[str],
    after: str,
    limit: int,
) -> list[Any]:
    """Up to `limit` file rows after `after`: the id, the promoted `columns` of `nodes`, then
    `json_extract` of each of `keys` and `json_type` of each of `flags` (it tells true from 1,
    a missing key from null)."""
    # file ids are exactly the ids in ['/', '0'): a range walked on the primary key index
    known = set(nodes.c.keys())
    if not set(columns) <= known:
        raise ValueError(f"not columns of nodes: {sorted(set(columns) - known)}")
    values = list(columns)
    values += [f"json_extract(doc, '$.\"{k}\"')" for k in keys]
    values += [f"json_type(doc, '$.\"{k}\"')" for k in flags]
    return sql.execute(
        tx.conn,
        f"SELECT id, {', '.join(values)} FROM nodes "
        "WHERE id > :after AND id >= '/' AND id < '0' ORDER BY id LIMIT :limit",
        {"after": after, "limit": limit},
    )


def postgresql_rows(store: Store, keys: Sequence[str], page: int) -> Iterator[tuple[str, str]]:
    """(id, JSON text of the array of `keys`' values) of every file, in one snapshot."""
    fields = sa.cast(
        sa.func.jsonb_build_array(*(nodes.c.doc.op("->")(sa.literal(k)) for k in keys)), sa.Text
    )
    query = (
        sa.select(nodes.c.id, fields)
        .where(nodes.c.kind == NodeKind.FILE.value)
        .order_by(nodes.c.id.collate("C"))
    )
    with store.read() as tx:
        rows = tx.conn.execution_options(yield_per=page).execute(query)
        yield from ((node_id, values) for node_id, values in rows)


def package_ids(tx: Tx) -> frozenset[str]:
    """Every package id in the tracker (folders end with `/`; far fewer than files)."""
    query = sa.select(nodes.c.id).where(
        nodes.c.kind == NodeKind.FILE.value, nodes.c.id.endswith("/", autoescape=True)
    )
    return frozenset(r[0] for r in tx.conn.execute(query))


def holds_any(tx: Tx, volume: str) -> bool:
    """Does the tracker record any file as coming from `volume` (cheap: indexed column)?"""
    row = tx.conn.execute(
        sa.select(nodes.c.id)
        .where(nodes.c.origin == volume, nodes.c.kind == NodeKind.FILE.value)
        .limit(1)
    ).first()
    return row is not None
