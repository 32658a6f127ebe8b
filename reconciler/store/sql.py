"""Driver-level statements for the store's hot paths (written with `?` placeholders).

SQLAlchemy builds parameters row by row, expands every `IN (...)` list at each call and
wraps every fetched row, which cost as much as the database work on the reconciler's
per-batch writes. These helpers send such statements through a cursor of the DB-API
connection that the SQLAlchemy connection holds (same transaction), on SQLite (qmark) and
PostgreSQL (psycopg's `%s`, and `= ANY(%s)` with one array for an id list). Driver errors
come out as SQLAlchemy's exception classes, like everywhere else in the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
    """Run one statement; the rows it returns as tuples (none for a write)."""
    statement, args = _native(conn, sql), tuple(params)
    with _cursor(conn, statement, args) as cursor:
        cursor.execute(statement, args)
        return cursor.fetchall() if cursor.description is not None else []


def execute_many(conn: sa.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run one statement for many parameter rows (the driver's executemany)."""
    if rows:
        statement = _native(conn, sql)
        with _cursor(conn, statement, rows) as cursor:
            cursor.executemany(statement, [tuple(r) for r in rows])


@contextmanager
def _cursor(conn: sa.Connection, statement: str, params: Any) -> Iterator[Any]:
    raw = conn.connection.dbapi_connection
    assert raw is not None, "the connection is closed"
    dbapi = conn.dialect.loaded_dbapi
    cursor = raw.cursor()
    try:
        yield cursor
    except dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(statement, params, exc, dbapi.Error) from exc
    finally:
        cursor.close()
