"""Documents as stored JSON text by `_id`, off the ORM: the lean read path of
`GET /api/read/<ids>` (`api.fastread` authenticates and shapes the reply).

architecture.md#performance measured a read through a per-request ORM session at a fifth of a
constant route. `FastReader` runs one `WHERE id IN (...)` query on a connection of its own, detached
from the pool, in autocommit (each query sees the latest commit, no idle transaction), and returns
the stored JSON text unparsed. On PostgreSQL `fetch_async` awaits the query on a few asynchronous
autocommit connections of the event loop (`ASYNC_CONNECTIONS`), so the loop parses and answers other
requests while the server process works (on a blocking connection it sat idle for each round trip);
the same query text is sent each time, which psycopg prepares after a few executions. The statement
is compiled by SQLAlchemy for the store's dialect (its placeholders, once per number of ids) and run
on the driver's cursor.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from reconciler.store import Store
from reconciler.store.sql import in_list

ASYNC_CONNECTIONS = 3  # in flight at once: the loop's work overlaps the server's


def _close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # closing a dead connection at shutdown is not an error
        return


def _finish(conn: Any) -> None:
    """Close an async connection from any context (the socket, without awaiting)."""
    if conn is not None:
        try:
            conn.pgconn.finish()
        except Exception:  # already closed
            return


class FastReader:
    """Documents as JSON text by `_id`, on a connection owned by this reader."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pg = store.dialect == "postgresql"
        self._lock = threading.Lock()
        self._conn: Any = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._slots: asyncio.Queue[Any] | None = None  # async connections (or None: to open)
        self._slots_loop: asyncio.AbstractEventLoop | None = None
        self._async_conns: weakref.WeakSet[Any] = weakref.WeakSet()

    def _connection(self) -> Any:
        if self._conn is None:
            proxy = self.store.engine.raw_connection()
            driver: Any = proxy.driver_connection
            proxy.detach()  # ours until close(); never handed back to the pool in autocommit
            if self.pg:
                driver.autocommit = True  # each query sees the latest commit, no idle txn
            self._conn = driver
            self._finalizer = weakref.finalize(self, _close, driver)
        return self._conn

    def _sql(self, ids: list[str]) -> tuple[str, Any]:
        """The driver's statement and parameters for `ids` (compiled once per count)."""
        column = "doc::text" if self.pg else "doc"
        return in_list(self.store.engine.dialect, f"SELECT id, {column} FROM nodes WHERE id", ids)

    async def fetch_async(self, ids: Sequence[str]) -> dict[str, str]:
        """`fetch` without blocking the event loop on PostgreSQL (SQLite: `fetch`)."""
        if not self.pg:
            return self.fetch(ids)
        sql, args = self._sql(list(dict.fromkeys(ids)))
        slots = self._loop_slots()
        conn = await slots.get()
        try:
            for attempt in (1, 2):
                try:
                    if conn is None:
                        conn = await self._open_async()
                    cur = conn.cursor()
                    await cur.execute(sql, args)
                    rows = await cur.fetchall()
                    await cur.close()
                    return {r[0]: r[1] for r in rows}
                except Exception:
                    _finish(conn)  # a broken connection (server restart): reconnect once
                    conn = None
                    if attempt == 2:
                        raise
            return {}
        finally:
            slots.put_nowait(conn)

    def _loop_slots(self) -> asyncio.Queue[Any]:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._close_async()  # a connection serves the loop that opened it
            self._slots, self._slots_loop = asyncio.Queue(), loop
            for _ in range(ASYNC_CONNECTIONS):
                self._slots.put_nowait(None)
        return self._slots

    async def _open_async(self) -> Any:
        import psycopg

        url = self.store.engine.url.set(drivername="postgresql")
        conn = await psycopg.AsyncConnection.connect(
            url.render_as_string(hide_password=False), autocommit=True
        )
        self._async_conns.add(conn)
        return conn

    def _close_async(self) -> None:
        for conn in list(self._async_conns):
            _finish(conn)
        self._async_conns = weakref.WeakSet()
        self._slots = self._slots_loop = None

    def fetch(self, ids: Sequence[str]) -> dict[str, str]:
        sql, args = self._sql(list(dict.fromkeys(ids)))
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    cur = conn.cursor()
                    cur.execute(sql, args)
                    rows = cur.fetchall()
                    cur.close()
                    return {r[0]: r[1] for r in rows}
                except Exception:
                    self.close()  # a broken connection (server restart): reconnect once
                    if attempt == 2:
                        raise
        return {}

    def close(self) -> None:
        self._close_async()
        if self._finalizer is not None:
            self._finalizer()
        self._conn = None
        self._finalizer = None
