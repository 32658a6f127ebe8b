"""Python client of the tracker, damas-style (`project = Client(url); project.signIn(u, p)`).

Every method returns the parsed JSON reply (207 replies included: their `None` entries mark
missing items) and raises `ApiError(status, message)` on any other error, except `lock` and
`unlock`, which return False on 409 like damas' legacy client. `request()` is the generic
call the other commands of `spctl --server` use.
"""

from __future__ import annotations

import json as jsonlib
from typing import Any
from urllib.parse import quote

import httpx


class ApiError(Exception):
    """An error reply from the tracker (or no reply at all: status 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _path_part(text: str, safe: str = "/@") -> str:
    return quote(text, safe=safe)


class Client:
    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.user: dict[str, Any] | None = None
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ---- transport -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        params: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
    ) -> Any:
        """Send one request; the parsed JSON reply, or ApiError for status >= 300."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        content = None
        if json is not None:
            content = jsonlib.dumps(json, allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        try:
            reply = self._http.request(
                method, path, content=content, data=form, params=params, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ApiError(0, f"cannot reach {self.url}: {exc}") from exc
        if reply.status_code >= 300:
            raise ApiError(reply.status_code, reply.text.strip() or reply.reason_phrase)
        if not reply.content:
            return None
        try:
            return reply.json()
        except ValueError:
            return reply.text

    # ---- users and tokens ------------------------------------------------------------------

    def signIn(self, username: str, password: str, expiresIn: str | None = None) -> Any:
        body: dict[str, Any] = {"username": username, "password": password}
        if expiresIn is not None:
            body["expiresIn"] = expiresIn
        reply = self.request("POST", "/api/signIn", body)
        self.token = reply["token"]
        self.user = reply["user"]
        return reply

    def signOut(self) -> None:
        self.token = None
        self.user = None

    def verify(self) -> Any:
        return self.request("GET", "/api/verify")

    def createToken(self, expiresIn: str | None = None) -> str:
        body = {"expiresIn": expiresIn} if expiresIn is not None else {}
        token: str = self.request("POST", "/api/createToken", body)
        return token

    def changePassword(self, password: str, newPassword: str) -> Any:
        reply = self.request(
            "POST", "/api/changePassword/", {"password": password, "newPassword": newPassword}
        )
        self.token = reply["token"]
        return reply

    # ---- cruds -----------------------------------------------------------------------------

    def create(self, keys: Any) -> Any:
        return self.request("POST", "/api/create/", keys)

    def read(self, ids: str | list[str]) -> Any:
        if isinstance(ids, str) and "," not in ids:
            return self.request("GET", "/api/read/" + _path_part(ids))
        return self.request("POST", "/api/read/", ids)

    def update(self, keys: Any) -> Any:
        return self.request("PUT", "/api/update/", keys)

    def upsert(self, keys: Any) -> Any:
        return self.request("POST", "/api/upsert/", keys)

    def delete(self, ids: str | list[str]) -> Any:
        return self.request("DELETE", "/api/delete/", ids)

    def graph(self, ids: str | list[str], depth: int = 0) -> Any:
        return self.request("POST", f"/api/graph/{int(depth)}/", ids)

    # ---- searches --------------------------------------------------------------------------

    @staticmethod
    def _query(query: str) -> str:
        # The server decodes the query twice (damas-core): protect literal '%' once more.
        return _path_part(query.replace("%", "%25"), safe="")

    def search(self, query: str, *, limit: int = 0, skip: int = 0) -> Any:
        params = {k: v for k, v in (("limit", limit), ("skip", skip)) if v}
        return self.request("GET", "/api/search/" + self._query(query), params=params or None)

    def search_one(self, query: str) -> Any:
        return self.request("GET", "/api/search_one/" + self._query(query))

    def search_mongo(self, query: Any, sort: Any = None, limit: int = 0, skip: int = 0) -> Any:
        body: dict[str, Any] = {"query": query, "limit": limit, "skip": skip}
        if sort is not None:
            body["sort"] = sort
        return self.request("POST", "/api/search_mongo/", body)

    # ---- dam extension ---------------------------------------------------------------------

    def publish(self, keys: Any) -> Any:
        return self.request("POST", "/api/publish/", keys)

    def comment(self, keys: Any) -> Any:
        return self.request("POST", "/api/comment/", keys)

    def version(self, node_id: str, keys: Any) -> Any:
        return self.request("POST", "/api/version/" + _path_part(node_id), keys)

    def lock(self, ids: str | list[str]) -> bool:
        return self._lock("/api/lock/", ids)

    def unlock(self, ids: str | list[str]) -> bool:
        return self._lock("/api/unlock/", ids)

    def _lock(self, path: str, ids: str | list[str]) -> bool:
        try:
            self.request("PUT", path, ids)
        except ApiError as exc:
            if exc.status == 409:
                return False
            raise
        return True
