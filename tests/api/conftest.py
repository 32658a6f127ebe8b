"""Fixtures of the API tests: the real app on each store (SQLite and PostgreSQL), users.

`api` is a `TestClient` over `create_app` with an empty store whose only user is `admin`;
`api.headers("alice", "editor")` creates the user through the admin API (first call),
signs in through `/api/signIn` and returns the Authorization header. `make_api(...)` builds
one with other settings (authorMode, create_returns_obj, a small body limit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from reconciler.store import Store
from tests.support.servers import serving

ADMIN_PASSWORD = "admin-secret"
# Cheap argon2id parameters: the algorithm and the code paths are the real ones.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass
class Api:
    http: TestClient
    store: Store
    settings: Settings
    _headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def sign_in(self, username: str, password: str) -> str:
        reply = self.http.post("/api/signIn", json={"username": username, "password": password})
        assert reply.status_code == 200, reply.text
        token: str = reply.json()["token"]
        return token

    def headers(self, username: str = "admin", cls: str = "admin") -> dict[str, str]:
        if username not in self._headers:
            if username != "admin":
                user = {"_id": f"@{username}", "class": cls, "password": f"{username}-pw"}
                made = self.http.post("/api/create/", json=user, headers=self.headers())
                assert made.status_code == 201, made.text
            password = ADMIN_PASSWORD if username == "admin" else f"{username}-pw"
            token = self.sign_in(username, password)
            self._headers[username] = {"Authorization": f"Bearer {token}"}
        return self._headers[username]

    def call(
        self, method: str, path: str, body: Any = None, user: str = "admin", cls: str = "admin"
    ) -> Any:
        return self.http.request(method, path, json=body, headers=self.headers(user, cls))


MakeApi = Callable[..., Api]


@pytest.fixture
def make_api(store_url: str) -> Iterator[MakeApi]:
    made: list[tuple[TestClient, Store]] = []

    def make(**overrides: Any) -> Api:
        settings = Settings(
            db_url=store_url, secret="test-secret", admin_password=ADMIN_PASSWORD, **overrides
        )
        store = Store.open(store_url)
        client = TestClient(create_app(settings, store=store, hasher=FAST_HASHER))
        client.__enter__()
        made.append((client, store))
        return Api(client, store, settings)

    yield make
    for client, store in made:
        client.__exit__(None, None, None)
        store.close()


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    return make_api()


@pytest.fixture
def server_url(store_url: str) -> Iterator[str]:
    """A real uvicorn server over the app on an empty store (admin / ADMIN_PASSWORD)."""
    settings = Settings(db_url=store_url, secret="test-secret", admin_password=ADMIN_PASSWORD)
    store = Store.open(store_url)
    try:
        with serving(create_app(settings, store=store, hasher=FAST_HASHER)) as url:
            yield url
    finally:
        store.close()
