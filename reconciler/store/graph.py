"""Graph reads of the tracker: the edges pointing at given nodes, by the index of
migration 0006_graph_edges."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from reconciler.store.documents import Doc, Tx
from reconciler.store.schema import nodes

CHUNK = 500  # targets per query
# The expression indexed by migration 0006_graph_edges, written the same way: SQLite uses an
# expression index only for the very same expression.
_EDGE_TARGET = {"sqlite": "json_extract(doc, '$.tgt_id')", "postgresql": "(doc ->> 'tgt_id')"}


def edges_into(tx: Tx, targets: list[str]) -> list[Doc]:
    """The edges (nodes with a `src_id`) whose `tgt_id` is one of `targets`, by the index."""
    target: sa.ColumnElement[Any] = sa.literal_column(_EDGE_TARGET[tx.dialect])
    wanted = set(targets)
    out: list[Doc] = []
    for start in range(0, len(targets), CHUNK):
        chunk = targets[start : start + CHUNK]
        query = sa.select(nodes.c.doc).where(target.isnot(None), target.in_(chunk))
        for (doc,) in tx.conn.execute(query):
            # The index holds text: a numeric tgt_id 5 would match "5" (Mongo: no match).
            if "src_id" in doc and isinstance(doc.get("tgt_id"), str) and doc["tgt_id"] in wanted:
                out.append(dict(doc))
    return out
