"""A file's detail for the web page: every key, one cell per site, and its history.

History is the file's children in the tracker (`#parent` = the file: the node publish
creates and the comments), read through the indexed `parent` column, newest first. Read
directly rather than through a `#parent:<id>` search because that grammar cannot hold a
path with spaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.web.grid import file_rows
from reconciler.store import Tx
from reconciler.store.grid import children_of

HISTORY_LIMIT = 200


@dataclass(frozen=True)
class FileDetail:
    doc: dict[str, Any]
    row: dict[str, Any]  # the grid row: cells, priority...
    history: list[dict[str, Any]]
    history_truncated: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "doc": self.doc,
            "row": self.row,
            "history": self.history,
            "historyTruncated": self.history_truncated,
        }


def file_detail(tx: Tx, file_id: str) -> FileDetail | None:
    doc = tx.get(file_id)
    if doc is None:
        return None
    rows = file_rows(tx, [file_id])
    children = children_of(tx, file_id, HISTORY_LIMIT + 1)
    return FileDetail(
        doc=_public(doc),
        row=rows[0],
        history=[_public(c) for c in children[:HISTORY_LIMIT]],
        history_truncated=len(children) > HISTORY_LIMIT,
    )


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    # File documents never hold password material, but a user's own keys might: the page
    # shows tracker documents the way /api/read does, minus any `password` key.
    return {k: v for k, v in doc.items() if k != "password"}
