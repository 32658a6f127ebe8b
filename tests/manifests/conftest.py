"""Fixtures of the manifests tests: a real tracker (uvicorn) for `spctl --server` mode."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from api.app import create_app
from api.client import Client
from api.settings import Settings
from reconciler.store import Store
from tests.support.servers import serving

ADMIN_PASSWORD = "admin-pw"


@dataclass(frozen=True)
class Tracker:
    url: str
    token: str  # the admin's
    store: Store


@dataclass(frozen=True)
class Target:
    """Where a `spctl` command works: `--db <store>` or `--server <tracker>`, and the
    environment that keeps it to that (its own home and config, no SPCTL_DB/SERVER/TOKEN
    of the developer's; the tracker's admin token in `--server` mode)."""

    args: list[str]
    env: dict[str, str]


@pytest.fixture
def tracker(store_url: str) -> Iterator[Tracker]:
    """The real app in a uvicorn server on 127.0.0.1 (any free port), admin signed in."""
    settings = Settings.from_env(
        db_url=store_url, secret="test-secret", admin_password=ADMIN_PASSWORD
    )
    store = Store.open(store_url)
    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    app = create_app(settings, store=store, hasher=hasher)
    try:
        with serving(app) as url:
            with Client(url) as client:
                token = client.signIn("admin", ADMIN_PASSWORD)["token"]
            yield Tracker(url, token, store)
    finally:
        store.close()


@pytest.fixture(params=["db", "server"])
def spctl_target(request: pytest.FixtureRequest, store_url: str, tmp_path: Path) -> Target:
    """The test store, directly (`--db`) or through a `tracker` (`--server`)."""
    env = {
        "SPCTL_HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "SPCTL_DB": "",
        "SPCTL_SERVER": "",
        "SPCTL_TOKEN": "",
    }
    if request.param == "db":
        return Target(["--db", store_url], env)
    tracker: Tracker = request.getfixturevalue("tracker")
    return Target(["--server", tracker.url], {**env, "SPCTL_TOKEN": tracker.token})
