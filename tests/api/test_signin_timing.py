"""What signIn's timing and replies tell an attacker, and what it costs the rest of the server.

- An unknown user takes as long as a known one (a dummy argon2 hash is verified).
- A disabled account gets the same reply whether the password was right or wrong.
- A flood of sign-ins (argon2 at a real cost) does not hold the SQLite write lock: writes go
  on while it runs (real uvicorn server, real threads).
These tests use an argon2 cost near production's (tens of ms per check), unlike the cheap
hasher of the other API tests: the costs compared here are the hashing.
"""

from __future__ import annotations

import sqlite3
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from reconciler.store import Store
from tests.api.conftest import ADMIN_PASSWORD
from tests.support.servers import serving

COSTLY_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def costly_settings(store_url: str) -> Settings:
    return Settings(
        db_url=store_url,
        secret="test-secret",
        admin_password=ADMIN_PASSWORD,
        signin_max_failures=0,  # these tests sign in wrongly on purpose, many times
        signin_max_failures_per_address=0,
    )


@pytest.fixture
def costly_api(store_url: str) -> Iterator[TestClient]:
    store = Store.open(store_url)
    with TestClient(create_app(costly_settings(store_url), store=store, hasher=COSTLY_HASHER)) as c:
        yield c
    store.close()


def sign_in_time(client: TestClient, username: str, password: str) -> float:
    started = time.perf_counter()
    reply = client.post("/api/signIn", json={"username": username, "password": password})
    elapsed = time.perf_counter() - started
    assert reply.status_code == 401, reply.text
    return elapsed


def test_unknown_and_known_users_take_the_same_time(costly_api: TestClient) -> None:
    unknown: list[float] = []
    known: list[float] = []
    for i in range(7):  # interleaved, so that a burst of load elsewhere hits both alike
        unknown.append(sign_in_time(costly_api, f"nobody{i}", "guess"))
        known.append(sign_in_time(costly_api, "admin", "guess"))
    slow, fast = sorted([statistics.median(unknown), statistics.median(known)], reverse=True)
    assert slow < 2 * fast, (unknown, known)


def test_a_disabled_account_does_not_confirm_the_password(costly_api: TestClient) -> None:
    admin = costly_api.post("/api/signIn", json={"username": "admin", "password": ADMIN_PASSWORD})
    headers = {"Authorization": f"Bearer {admin.json()['token']}"}
    made = costly_api.post(
        "/api/create/",
        json={"_id": "@erin", "class": "user", "password": "erin-pw", "disable": True},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    replies = [
        costly_api.post("/api/signIn", json={"username": "erin", "password": pw})
        for pw in ("erin-pw", "wrong")
    ]
    assert [r.status_code for r in replies] == [401, 401]
    assert replies[0].text == replies[1].text


FLOOD_THREADS = 16
FLOOD_ROUNDS = 4


def lock_samples(db: Path, running: threading.Event) -> tuple[int, int]:
    """(free, locked): how often the SQLite write lock could be taken at once while
    `running` is set (a write transaction opened and rolled back every 10 ms)."""
    conn = sqlite3.connect(db, timeout=0, isolation_level=None)
    free = locked = 0
    try:
        while running.is_set():
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
                free += 1
            except sqlite3.OperationalError:  # database is locked
                locked += 1
            time.sleep(0.01)
    finally:
        conn.close()
    return free, locked


def test_a_sign_in_flood_does_not_hold_the_write_lock(tmp_path: Path) -> None:
    """16 clients sign in again and again: the write lock stays mostly free, and an admin's
    create completes long before the flood ends."""
    db = tmp_path / "store.db"
    store = Store.open(f"sqlite:///{db}")
    app = create_app(costly_settings(f"sqlite:///{db}"), store=store, hasher=COSTLY_HASHER)
    creds = {"username": "admin", "password": ADMIN_PASSWORD}
    try:
        with serving(app) as base, httpx.Client(base_url=base, timeout=60) as http:
            headers = {
                "Authorization": f"Bearer {http.post('/api/signIn', json=creds).json()['token']}"
            }

            def flood() -> None:
                with httpx.Client(base_url=base, timeout=60) as own:
                    for _ in range(FLOOD_ROUNDS):
                        assert own.post("/api/signIn", json=creds).status_code == 200

            threads = [threading.Thread(target=flood) for _ in range(FLOOD_THREADS)]
            flood_start = time.monotonic()
            for thread in threads:
                thread.start()
            running = threading.Event()
            running.set()
            samples: list[tuple[int, int]] = []
            sampler = threading.Thread(target=lambda: samples.append(lock_samples(db, running)))
            sampler.start()
            time.sleep(0.3)  # the flood is under way
            create_start = time.monotonic()
            created = http.post("/api/create/", json={"_id": "/during-flood"}, headers=headers)
            create_done = time.monotonic()
            for thread in threads:
                thread.join(timeout=120)
            flood_end = time.monotonic()
            running.clear()
            sampler.join(timeout=10)
    finally:
        store.close()
    assert created.status_code == 201, created.text
    # relative to the flood's own length (it varies with the machine's load)
    waited, lasted = create_done - create_start, flood_end - flood_start
    assert waited < 0.5 * lasted, f"the create waited {waited:.2f} s of a {lasted:.2f} s flood"
    [(free, locked)] = samples
    assert free + locked > 20
    assert locked < 0.4 * (free + locked), (free, locked)  # it was held ~80% of the time
