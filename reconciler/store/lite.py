"""Read documents from a current SQLite store with the standard `sqlite3` module alone.

`spctl get` should answer as fast as Python starts: SQLAlchemy's import alone costs several
times a bare interpreter. For a SQLite store already at the newest migration, `open_current`
gives a read-only `LiteReader` (one deferred transaction, like `Store.read()`) with the two
reads `reconciler.services.declarative.live_objects` needs; anything else (PostgreSQL, a store to
create or migrate) returns None and the caller opens a full `Store`. The SQL mirrors
`documents.Tx.get` and `Tx.iter_docs` (same tables, same order).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from reconciler.core.domain import NodeKind
from reconciler.store import engine as engines

Doc = dict[str, Any]
BATCH = 1000


def sqlite_file(url: str) -> Path | None:
    """The database file a store URL names, or None (PostgreSQL, in-memory, options)."""
    url = engines.normalize_url(url)
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    if not path or path == ":memory:" or "?" in path:
        return None
    return Path(path)


class LiteReader:
    """Documents of a SQLite store in one read transaction; a context manager."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def get(self, node_id: str) -> Doc | None:
        row = self.conn.execute("SELECT doc FROM nodes WHERE id = ?", (node_id,)).fetchone()
        return dict(json.loads(row[0])) if row else None

    def iter_docs(self, kind: NodeKind | None = None) -> Iterator[Doc]:
        """Documents in `_id` order, by pages (constant memory), as `Tx.iter_docs`."""
        last = ""
        where = "id > ?" + (" AND kind = ?" if kind is not None else "")
        while True:
            args: tuple[Any, ...] = (last, kind.value) if kind is not None else (last,)
            rows = self.conn.execute(
                f"SELECT id, doc FROM nodes WHERE {where} ORDER BY id LIMIT {BATCH}", args
            ).fetchall()
            if not rows:
                return
            for _, doc in rows:
                yield dict(json.loads(doc))
            last = rows[-1][0]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> LiteReader:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()


def open_current(url: str | None) -> LiteReader | None:
    """A reader on the SQLite store `url` (default: the embedded one) if it exists and is at
    the newest migration; None when a full `Store` must open it (create, migrate, PG)."""
    path = sqlite_file(url or engines.default_db_url())
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(path, timeout=60, isolation_level=None)  # we BEGIN ourselves
    except sqlite3.Error:
        return None
    try:
        conn.execute("BEGIN")  # one snapshot for every read, as Store.read()
        stored = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
    except sqlite3.Error:  # no alembic_version table: a store to create
        conn.close()
        return None
    if stored != [engines.newest_revision()]:
        conn.close()
        return None
    return LiteReader(conn)
