"""Streaming reads of file documents by id prefix, in constant memory.

For questions about a part of a big store (`spctl diff --impact`: the files a changed
SyncTarget can match). Under a prefix, one range of the primary key is read and only the
documents the caller keeps are decoded; with no prefix to narrow it (an unanchored
pattern), ids are read first, from the index alone, then the kept documents by id. Keyset
pages throughout, so a million files never sit in memory at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from reconciler.core.domain import NodeKind
from reconciler.store import sql
from reconciler.store.documents import Doc, Tx

PAGE = 10_000


def _prefix_clause(tx: Tx, prefix: str) -> tuple[str, dict[str, Any]]:
    """`id` starts with `prefix`, through the primary key's index.

    SQLite compares TEXT bytewise, so a range is exact. PostgreSQL's LIKE is exact in any
    collation; the planner turns it into an index range only under "C" or "POSIX", so the
    range is added where the database's collation orders by code point as well ("C.UTF-8").
    """
    if not prefix:
        return "", {}
    last = ord(prefix[-1])
    upper = prefix[:-1] + chr(last + 1) if last < 0x10FFFF else None
    if tx.dialect == "postgresql":
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = " AND id LIKE :like"
        if upper is None or not _code_point_order(tx):
            return like, {"like": escaped + "%"}
        return f"{like} AND id >= :low AND id < :high", {
            "like": escaped + "%",
            "low": prefix,
            "high": upper,
        }
    if upper is None:
        return " AND substr(id, 1, :length) = :prefix", {"length": len(prefix), "prefix": prefix}
    return " AND id >= :low AND id < :high", {"low": prefix, "high": upper}


def _code_point_order(tx: Tx) -> bool:
    rows = sql.execute(
        tx.conn, "SELECT datcollate FROM pg_database WHERE datname = current_database()"
    )
    return bool(rows) and str(rows[0][0]) in ("C", "POSIX", "C.UTF-8", "C.utf8")


def merge_prefixes(prefixes: Iterable[str]) -> list[str]:
    """The prefixes not covered by a shorter one (each id is then read once)."""
    kept: list[str] = []
    for prefix in sorted(set(prefixes)):
        if not kept or not prefix.startswith(kept[-1]):
            kept.append(prefix)
    return kept


def iter_file_ids(tx: Tx, prefixes: Iterable[str], page: int = PAGE) -> Iterator[str]:
    """Ids of files starting with any of `prefixes` ("" = every file), each once."""
    for prefix in merge_prefixes(prefixes):
        clause, params = _prefix_clause(tx, prefix)
        last = ""
        while True:
            rows = sql.execute(
                tx.conn,
                f"SELECT id FROM nodes WHERE kind = :kind{clause} AND id > :last "
                "ORDER BY id LIMIT :page",
                {"kind": NodeKind.FILE.value, **params, "last": last, "page": page},
            )
            yield from (r[0] for r in rows)
            if len(rows) < page:
                break
            last = rows[-1][0]


def _decoded(doc: Any) -> Doc:
    return json.loads(doc) if isinstance(doc, str) else dict(doc)


def iter_file_docs(
    tx: Tx, prefixes: Iterable[str], keep: Callable[[str], bool] | None = None
) -> Iterator[Doc]:
    """Documents of the files under `prefixes` whose id `keep` accepts (all if None)."""
    for prefix in merge_prefixes(prefixes):
        if prefix or keep is None:
            yield from _docs_in_range(tx, prefix, keep)
            continue
        ids = (i for i in iter_file_ids(tx, [prefix]) if keep(i))
        while chunk := list(islice(ids, 2000)):
            clause, params = sql.in_ids(tx.conn, chunk)
            rows = sql.execute(tx.conn, f"SELECT doc FROM nodes WHERE id{clause}", params)
            yield from (_decoded(r[0]) for r in rows)


def _docs_in_range(
    tx: Tx, prefix: str, keep: Callable[[str], bool] | None, page: int = 2000
) -> Iterator[Doc]:
    # PostgreSQL sends the text of the JSON: rows `keep` refuses are never decoded
    doc = "CAST(doc AS text)" if tx.dialect == "postgresql" else "doc"
    clause, params = _prefix_clause(tx, prefix)
    last = ""
    while True:
        rows = sql.execute(
            tx.conn,
            f"SELECT id, {doc} FROM nodes WHERE kind = :kind{clause} AND id > :last "
            "ORDER BY id LIMIT :page",
            {"kind": NodeKind.FILE.value, **params, "last": last, "page": page},
        )
        yield from (_decoded(text) for node_id, text in rows if keep is None or keep(node_id))
        if len(rows) < page:
            return
        last = rows[-1][0]
