"""The queries of the web page's file x site grid and file detail (`api.web.grid`).

Keyset paging over indexed columns (architecture.md#performance: it must stay fast at 1,000,000
files): by time on `nodes (kind, time, id)`, by path on the primary key, by priority on the hub's
`file_sites` rows `(site, priority, time, file_id)`. Each returns the sort keys of up to `limit`
files after `after` (the last key of the previous page). The filter is a condition from
`reconciler.store.search` (`files_filter`), run through `search.run`: a value the database refuses
is a `QueryError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from reconciler.core.domain import NodeKind
from reconciler.store import search
from reconciler.store.documents import Doc, Tx
from reconciler.store.query import Expr
from reconciler.store.schema import file_sites, nodes

Key = tuple[Any, ...]


def files_filter(query: str, dialect: str, *, admin: bool, errors_only: bool) -> Expr | None:
    """The files matching the search grammar `query` (blank: all), and, with `errors_only`,
    whose last attempt failed on some site; None when nothing narrows the files."""
    where = search.text_condition(query, dialect, admin=admin) if query.strip() else None
    if errors_only:
        where = in_error() if where is None else sa.and_(where, in_error())
    return where


def in_error() -> Expr:
    """The files whose last attempt failed on at least one site (a `syncError_<site>` key),
    through the partial index `ix_fs_failed`."""
    failed = sa.select(file_sites.c.file_id).where(file_sites.c.failed == 1)
    return nodes.c.id.in_(failed)


def keys_by_time(tx: Tx, where: Expr | None, after: Key | None, limit: int) -> list[Key]:
    """(time, id) of files, newest first."""
    n = nodes.c
    query = sa.select(n.time, n.id).where(n.kind == NodeKind.FILE.value, n.time.is_not(None))
    if where is not None:
        query = query.where(where)
    if after is not None:
        query = query.where(sa.tuple_(n.time, n.id) < sa.tuple_(*after))
    query = query.order_by(n.time.desc(), n.id.desc()).limit(limit)
    return [tuple(r) for r in search.run(tx, query)]


def keys_by_path(tx: Tx, where: Expr | None, after: Key | None, limit: int) -> list[Key]:
    """(id,) of files, alphabetical."""
    n = nodes.c
    query = sa.select(n.id).where(n.kind == NodeKind.FILE.value)
    if where is not None:
        query = query.where(where)
    if after is not None:
        query = query.where(n.id > after[0])
    query = query.order_by(n.id).limit(limit)
    return [tuple(r) for r in search.run(tx, query)]


def keys_by_priority(
    tx: Tx, hub: str, where: Expr | None, after: Key | None, limit: int
) -> list[Key]:
    """(priority, time, id) of files, highest priority then newest first."""
    # Every file has a row for the hub (wanted or not), so the hub's rows order all files.
    fs = file_sites.c
    query = sa.select(fs.priority, fs.time, fs.file_id).where(fs.site == hub)
    if where is not None:
        query = query.join(nodes, nodes.c.id == fs.file_id).where(where)
    if after is not None:
        query = query.where(sa.tuple_(fs.priority, fs.time, fs.file_id) < sa.tuple_(*after))
    query = query.order_by(fs.priority.desc(), fs.time.desc(), fs.file_id.desc()).limit(limit)
    return [tuple(r) for r in search.run(tx, query)]


def wanted_of(tx: Tx, ids: Sequence[str]) -> dict[tuple[str, str], bool]:
    """{(file id, site): wanted} of the `file_sites` rows of `ids`."""
    if not ids:
        return {}
    fs = file_sites.c
    query = sa.select(fs.file_id, fs.site, fs.wanted).where(fs.file_id.in_(list(ids)))
    return {(f, s): bool(w) for f, s, w in tx.conn.execute(query)}


def children_of(tx: Tx, parent: str, limit: int) -> list[Doc]:
    """Up to `limit` documents whose `#parent` is `parent`, newest first (indexed column)."""
    query = (
        sa.select(nodes.c.doc)
        .where(nodes.c.parent == parent)
        .order_by(nodes.c.time.desc(), nodes.c.id.desc())
        .limit(limit)
    )
    return [dict(r[0]) for r in tx.conn.execute(query)]
