"""The lean read path of `GET /api/read/<ids>`: one primary-key query per request.

architecture.md#performance measured a read through a per-request ORM session at a fifth of a
constant route. This path runs in the event loop (`async def` route): the store's `FastReader`
(`reconciler.store.fastread`: its own autocommit connection, async ones on PostgreSQL) fetches the
caller's user document and the requested documents in a single `WHERE id IN (...)` query; this
module checks the token against the user document, and sends the stored JSON text as is (only user
documents are parsed, to drop their password hash, and, for callers below admin, configuration
objects, to redact their secrets: `api.secrets`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from api.auth import is_user_id, peek_user_id, public_doc, token_valid
from api.deps import UNAUTHORIZED, UserClass
from api.errors import ApiFailure
from api.secrets import has_config_secrets, redact_config
from reconciler.store.fastread import FastReader

__all__ = ["FastReader", "read_texts"]


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
