"""The lean read path of `GET /api/read/<ids>`: one primary-key query per request.

SPEC §10 measured a read through a per-request ORM session at a fifth of a constant route.
This path runs in the event loop (`async def` route) on one dedicated autocommit DBAPI
connection, fetches the caller's user document and the requested documents in a single
`WHERE id IN (...)` query, checks the token against the user document, and sends the stored
JSON text as is (only user documents are parsed, to drop their password hash, and, for
callers below admin, configuration objects, to redact their secrets: `api.secrets`).

On PostgreSQL the query is awaited on a few asynchronous autocommit connections of the
event loop (`ASYNC_CONNECTIONS`), so the loop parses and answers other requests while the
server process works (on a blocking connection it sat idle for each round trip); the same
query text is sent each time, which psycopg prepares after a few executions.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

from api.auth import is_user_id, peek_user_id, public_doc, token_valid
from api.deps import UNAUTHORIZED, UserClass
from api.errors import ApiFailure
from api.secrets import has_config_secrets, redact_config
from reconciler.store import Store

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

    def _sql(self, count: int) -> str:
        marks = ",".join(["%s" if self.pg else "?"] * count)
        column = "doc::text" if self.pg else "doc"
        return f"SELECT id, {column} FROM nodes WHERE id IN ({marks})"

    async def fetch_async(self, ids: Sequence[str]) -> dict[str, str]:
        """`fetch` without blocking the event loop on PostgreSQL (SQLite: `fetch`)."""
        if not self.pg:
            return self.fetch(ids)
        unique = list(dict.fromkeys(ids))
        sql = self._sql(len(unique))
        slots = self._loop_slots()
        conn = await slots.get()
        try:
            for attempt in (1, 2):
                try:
                    if conn is None:
                        conn = await self._open_async()
                    cur = conn.cursor()
                    await cur.execute(sql, unique)
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
        unique = list(dict.fromkeys(ids))
        sql = self._sql(len(unique))
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    cur = conn.cursor()
                    cur.execute(sql, unique)
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


def _body(doc_text: str, node_id: str, *, admin: bool) -> str:
    if is_user_id(node_id):
        return json.dumps(public_doc(json.loads(doc_text)), separators=(",", ":"))
    if not admin and has_config_secrets(node_id):  # by id: other documents stay unparsed
        return json.dumps(redact_config(json.loads(doc_text)), separators=(",", ":"))
    return doc_text


async def read_texts(
    reader: FastReader, token: str | None, secret: str, ids: Sequence[str]
) -> tuple[int, str]:
    """(status, JSON text) of a GET read: authenticate and fetch in one query."""
    user_id, token = _caller(token)
    return _reply(await reader.fetch_async([user_id, *ids]), user_id, token, secret, ids)


def _caller(token: str | None) -> tuple[str, str]:
    """(user id, token) named by a token, before it is checked against the user document."""
    user_id = peek_user_id(token) if token else None
    if token is None or user_id is None:
        raise ApiFailure(401, UNAUTHORIZED)
    return user_id, token


def _reply(
    found: dict[str, str], user_id: str, token: str, secret: str, ids: Sequence[str]
) -> tuple[int, str]:
    user_text = found.get(user_id)
    user_doc = json.loads(user_text) if user_text else None
    if not isinstance(user_doc, dict) or not token_valid(
        token, secret, user_doc, now_s=time.time()
    ):
        raise ApiFailure(401, UNAUTHORIZED)
    admin = UserClass.parse(user_doc.get("class")) is UserClass.ADMIN
    if len(ids) == 1:
        text = found.get(ids[0])
        if text is None:
            raise ApiFailure(404, "Read error: Not found")
        return 200, _body(text, ids[0], admin=admin)
    parts = [_body(found[i], i, admin=admin) if i in found else "null" for i in ids]
    missing = sum(1 for i in ids if i not in found)
    if missing == len(ids):
        raise ApiFailure(404, "Read error: Not found")
    return (207 if missing else 200), "[" + ",".join(parts) + "]"
