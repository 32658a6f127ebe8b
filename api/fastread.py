"""The lean read path of `GET /api/read/<ids>`: one primary-key query per request.

SPEC §10 measured a read through a per-request ORM session at a fifth of a constant route.
This path runs in the event loop (`async def` route) on one dedicated autocommit DBAPI
connection, fetches the caller's user document and the requested documents in a single
`WHERE id IN (...)` query, checks the token against the user document, and sends the stored
JSON text as is (only user documents are parsed, to drop their password hash, and, for
callers below admin, configuration objects, to redact their secrets: `api.secrets`).
"""

from __future__ import annotations

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


def _close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # closing a dead connection at shutdown is not an error
        return


class FastReader:
    """Documents as JSON text by `_id`, on a connection owned by this reader."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pg = store.dialect == "postgresql"
        self._lock = threading.Lock()
        self._conn: Any = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

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

    def fetch(self, ids: Sequence[str]) -> dict[str, str]:
        unique = list(dict.fromkeys(ids))
        marks = ",".join(["%s" if self.pg else "?"] * len(unique))
        column = "doc::text" if self.pg else "doc"
        sql = f"SELECT id, {column} FROM nodes WHERE id IN ({marks})"
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


def read_texts(
    reader: FastReader, token: str | None, secret: str, ids: Sequence[str]
) -> tuple[int, str]:
    """(status, JSON text) of a GET read: authenticate and fetch in one query."""
    user_id = peek_user_id(token) if token else None
    if token is None or user_id is None:
        raise ApiFailure(401, UNAUTHORIZED)
    found = reader.fetch([user_id, *ids])
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
