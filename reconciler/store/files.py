"""Streaming reads of file documents by id prefix, in constant memory.

For questions about a part of a big store (`spctl diff --impact`: the files a changed
SyncTarget can match): ids are read first, from the primary key alone (no document is
decoded), then only the documents the caller keeps. Keyset pages throughout, so a
million files never sit in memory at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from reconciler.domain import NodeKind
from reconciler.store import sql
from reconciler.store.documents import Doc, Tx

PAGE = 10_000


def _prefix_clause(tx: Tx, prefix: str) -> tuple[str, list[Any]]:
    """`id` starts with `prefix`, through the primary key's index.

    SQLite compares TEXT bytewise, so a range is exact. PostgreSQL's LIKE is exact in any
    collation and becomes an index range under the C collation.
    """
    if not prefix:
        return "", []
    if tx.dialect == "postgresql":
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return " AND id LIKE ?", [escaped + "%"]
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return " AND id >= ? AND id < ?", [prefix, upper]


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
                f"SELECT id FROM nodes WHERE kind = ?{clause} AND id > ? ORDER BY id LIMIT ?",
                [NodeKind.FILE.value, *params, last, page],
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
    ids = iter_file_ids(tx, prefixes)
    if keep is not None:
        ids = (i for i in ids if keep(i))
    while chunk := list(islice(ids, 2000)):
        clause, params = sql.in_ids(tx.conn, chunk)
        rows = sql.execute(tx.conn, f"SELECT doc FROM nodes WHERE id{clause}", params)
        yield from (_decoded(r[0]) for r in rows)
