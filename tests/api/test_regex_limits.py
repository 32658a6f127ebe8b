"""Regexes run in RE2 (linear time) or are refused with 400 (issue 11).

`{"_id": {"$regex": "^rsyn(.|.|.)*X$"}}` ran Python's backtracking engine inside the server,
holding the interpreter: every request stalled (`/healthz` waited 3 s). The server here runs
in its own process (stopped by its PID), so that a frozen one cannot freeze the test too.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from reconciler.store import Store
from tests.api.conftest import ADMIN_PASSWORD, Api
from tests.support.servers import free_port, server_process

EVIL = "^rsyn(.|.|.)*X$"
SERVER = """
import sys, uvicorn
from api.app import create_app
from api.settings import Settings
from tests.api.conftest import FAST_HASHER
settings = Settings(db_url=sys.argv[1], secret="test-secret", admin_password=sys.argv[3])
uvicorn.run(create_app(settings, hasher=FAST_HASHER), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="error")
"""


def _seed_long_ids(store_url: str) -> None:
    store = Store.open(store_url)
    try:
        with store.write() as tx:
            tx.insert_many(
                [{"_id": f"rsyn{i:03d}" + "abcdefgh" * (4 + i % 3), "k": i} for i in range(60)]
                + [{"_id": "rsyn-long-" + "xyz" * 3000 + "X", "k": -1}]
            )
    finally:
        store.close()


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[str]:
    """A tracker in a child process on the seeded store; its URL."""
    _seed_long_ids(store_url)
    port = free_port()
    with server_process(
        [sys.executable, "-c", SERVER, store_url, str(port), ADMIN_PASSWORD],
        port=port,
        logs=tmp_path,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "SPCTL_HOME": str(tmp_path / "home")},
    ) as server:
        yield server.url


def _token(url: str) -> dict[str, str]:
    reply = httpx.post(
        f"{url}/api/signIn", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=10
    )
    return {"Authorization": f"Bearer {reply.json()['token']}"}


def test_healthz_stays_fast_while_clients_run_the_worst_regex(server: str) -> None:
    headers = _token(server)
    body = {"query": {"_id": {"$regex": EVIL}}}
    stop = time.monotonic() + 4
    answers: list[int] = []

    def attack() -> None:
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < stop and len(answers) < 2000:
                try:
                    reply = client.post(f"{server}/api/search_mongo/", json=body, headers=headers)
                    answers.append(reply.status_code)
                except httpx.TimeoutException:
                    answers.append(0)

    threads = [threading.Thread(target=attack, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # the attack is under way
    samples: list[float] = []
    with httpx.Client(timeout=3) as client:
        for _ in range(15):
            started = time.monotonic()
            try:
                ok = client.get(f"{server}/healthz").status_code == 200
            except httpx.TimeoutException:
                ok = False
            samples.append(time.monotonic() - started if ok else float("inf"))
            time.sleep(0.1)
    for thread in threads:
        thread.join(timeout=10)
    assert statistics.median(samples) < 0.2, samples
    assert answers and set(answers) == {200}, answers[:20]
    reply = httpx.post(f"{server}/api/search_mongo/", json=body, headers=headers, timeout=10)
    assert reply.json() == {"count": 1, "ids": ["rsyn-long-" + "xyz" * 3000 + "X"]}


UNSUPPORTED: list[Any] = [
    {"query": {"_id": {"$regex": "(a)\\1"}}},
    {"query": {"_id": {"$regex": "a(?=b)"}}},
    {"query": {"_id": {"$regex": "(?<!a)b"}}},
    {"query": {"_id": "REGEX_(x)\\1"}},
    {"query": {"k": "RX_a(?!b)_RX"}},
    {"query": {"k": {"$in": ["REGEX_(?=a)"]}}},
    {"query": {"k": {"$regex": "a", "$options": "x"}}},
    {"query": {"k": {"$regex": "a{5000}"}}},
]


def test_patterns_re2_cannot_run_are_400(api: Api) -> None:
    api.call("POST", "/api/create/", {"_id": "/a", "k": "ab"})
    for body in UNSUPPORTED:
        reply = api.call("POST", "/api/search_mongo/", body, user="guest", cls="guest")
        assert reply.status_code == 400, (body, reply.text)
        assert "regular expression" in reply.text
    for term in ("k:/(a)\\1/", "k:/a(?=b)/"):
        reply = api.call("GET", "/api/search/" + quote(term, safe=""))
        assert reply.status_code == 400, (term, reply.text)


def test_supported_regexes_and_options_still_match(api: Api) -> None:
    api.call("POST", "/api/create/", {"_id": "/a", "k": "Alpha\nbeta"})
    cases: list[dict[str, Any]] = [
        {"k": {"$regex": "^alpha", "$options": "i"}},
        {"k": {"$regex": "^beta$", "$options": "m"}},
        {"k": {"$regex": "alpha.beta", "$options": "is"}},
        {"k": "RX_^ALPHA_RXig"},
        {"_id": "REGEX_^/a$"},
        {"k": {"$regex": "\\w+\\s\\w+"}},
    ]
    for query in cases:
        reply = api.call("POST", "/api/search_mongo/", {"query": query})
        assert reply.status_code == 200 and reply.json()["ids"] == ["/a"], (query, reply.text)
