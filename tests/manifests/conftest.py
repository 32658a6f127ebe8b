"""Fixtures of the manifests tests: a real tracker (uvicorn) for `spctl --server` mode."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from argon2 import PasswordHasher

from api.app import create_app
from api.client import Client
from api.settings import Settings
from reconciler.store import Store

ADMIN_PASSWORD = "admin-pw"


@dataclass(frozen=True)
class Tracker:
    url: str
    token: str  # the admin's
    store: Store


@pytest.fixture
def tracker(store_url: str) -> Iterator[Tracker]:
    """The real app in a uvicorn server on 127.0.0.1 (any free port), admin signed in."""
    settings = Settings.from_env(
        db_url=store_url, secret="test-secret", admin_password=ADMIN_PASSWORD
    )
    store = Store.open(store_url)
    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    app = create_app(settings, store=store, hasher=hasher)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            pytest.fail("the tracker did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with Client(url) as client:
        token = client.signIn("admin", ADMIN_PASSWORD)["token"]
    try:
        yield Tracker(url, token, store)
    finally:
        server.should_exit = True
        thread.join()
        store.close()
