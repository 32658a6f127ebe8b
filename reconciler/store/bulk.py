"""Bulk insert of new file documents: the fast path for a scan that finds many new files.

Same result as `Tx.insert_many` for file documents (the `nodes` rows, the derived
`file_sites` rows and the `site_counts` deltas, in the caller's transaction), measured
several times faster at 100,000 files because:
- rows go straight to the DB-API driver (`executemany` on SQLite, `COPY` on PostgreSQL)
  instead of through SQLAlchemy's per-row parameter processing;
- `site_rows` runs once per *shape* of document: documents equal but for `_id`,
  `file_size` and `file_mtime`, and matched by the same SyncTargets, get the same rows but
  for the file id and size — which is all `site_rows` reads from those three keys.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

from reconciler.core.config import SyncConfig
from reconciler.core.desired import file_size, site_rows
from reconciler.core.domain import NodeKind, node_kind
from reconciler.store import sql
from reconciler.store.documents import Tx, _row_values, node_columns
from reconciler.store.schema import nodes

_PER_FILE_KEYS = frozenset({"_id", "file_size", "file_mtime"})
_JSON_COLUMNS = frozenset({"doc"})


def _shape(doc: Mapping[str, Any], cfg: SyncConfig) -> tuple[Any, ...] | None:
    items = tuple(sorted(((k, v) for k, v in doc.items() if k not in _PER_FILE_KEYS),
                         key=itemgetter(0)))  # fmt: skip
    shape = (items, tuple(t.matches(str(doc["_id"])) for t in cfg.targets))
    try:
        hash(shape)
    except TypeError:  # a list or an object among the keys: no sharing for this one
        return None
    return shape


def derived_rows(docs: Iterable[Mapping[str, Any]], cfg: SyncConfig) -> Iterator[dict[str, Any]]:
    """The `file_sites` rows of `docs`, exactly as `site_rows` gives them."""
    memo: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for doc in docs:
        shape = _shape(doc, cfg)
        template = memo.get(shape) if shape is not None else None
        if template is None:
            template = [_row_values(r) for r in site_rows(doc, cfg)]
            if shape is not None:
                memo[shape] = template
        file_id = str(doc["_id"])
        size = file_size(doc)
        for row in template:
            yield {**row, "file_id": file_id, "size": size}


def _write_rows(tx: Tx, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    pick = itemgetter(*columns)
    values: list[tuple[Any, ...]] = [pick(r) for r in rows]
    for index, column in enumerate(columns):
        if column in _JSON_COLUMNS:
            dumps = json.dumps
            values = [(*v[:index], dumps(v[index]), *v[index + 1 :]) for v in values]
    if tx.dialect != "postgresql":
        marks = ", ".join(f":{c}" for c in columns)
        sql.execute_many(tx.conn, f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                         values)  # fmt: skip
        return
    raw = tx.conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(value)
    finally:
        cursor.close()


def _existing(tx: Tx, ids: Sequence[str]) -> set[str]:
    """`Tx.existing`, with one array parameter on PostgreSQL (an expanded IN of thousands
    of bound values costs more to build than to run)."""
    if tx.dialect != "postgresql":
        return tx.existing(ids)
    query = sa.select(nodes.c.id).where(nodes.c.id == sa.func.any(sa.bindparam("ids")))
    return {r[0] for r in tx.conn.execute(query, {"ids": list(ids)})}


def insert_new_files(tx: Tx, docs: Sequence[Mapping[str, Any]]) -> list[bool]:
    """Like `Tx.insert_many` for file documents: False (nothing written) for a taken id."""
    ids = [str(d["_id"]) for d in docs]
    if any(node_kind(i) is not NodeKind.FILE for i in ids):
        raise ValueError("insert_new_files takes file documents only")
    taken = _existing(tx, ids)
    fresh: dict[str, Mapping[str, Any]] = {}
    result: list[bool] = []
    for node_id, doc in zip(ids, docs, strict=True):
        ok = node_id not in taken and node_id not in fresh
        result.append(ok)
        if ok:
            fresh[node_id] = doc
    if not fresh:
        return result
    rows = list(derived_rows(fresh.values(), tx.config()))
    _write_rows(tx, "nodes", [node_columns(d) for d in fresh.values()])
    _write_rows(tx, "file_sites", rows)
    deltas: Counter[tuple[str, str, str]] = Counter()
    for row in rows:
        if row["wanted"]:
            deltas[(row["site"], row["state"], "files")] += 1
            deltas[(row["site"], row["state"], "bytes")] += row["size"]
    tx._apply_counts(deltas)
    return result
