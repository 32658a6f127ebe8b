"""Driver-level statements for the store's hot paths (written with `?` placeholders).

SQLAlchemy builds parameters row by row and expands every `IN (...)` list at each call,
which cost as much as the database work on the reconciler's per-batch writes. These
helpers send such statements to the driver as they are, on SQLite (qmark) and PostgreSQL
(psycopg's `%s`, and `= ANY(%s)` with one array for an id list).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa


def _native(conn: sa.Connection, sql: str) -> str:
    return sql.replace("?", "%s") if conn.dialect.name == "postgresql" else sql


def in_ids(conn: sa.Connection, ids: Sequence[str]) -> tuple[str, list[Any]]:
    """The `IN` clause for `ids` (append it after a column) and its parameters."""
    if conn.dialect.name == "postgresql":
        return " = ANY(?)", [list(ids)]
    return f" IN ({','.join('?' * len(ids))})", list(ids)


def execute(conn: sa.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run one statement; the rows it returns (none for a write)."""
    result = conn.exec_driver_sql(_native(conn, sql), tuple(params))
    return list(result) if result.returns_rows else []


def execute_many(conn: sa.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run one statement for many parameter rows (the driver's executemany)."""
    if rows:
        conn.exec_driver_sql(_native(conn, sql), [tuple(r) for r in rows])
