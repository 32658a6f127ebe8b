"""Locks are exclusive under concurrency, on SQLite and PostgreSQL (a real uvicorn server)."""

from __future__ import annotations

import threading

from api.client import ApiError, Client
from tests.api.conftest import ADMIN_PASSWORD


def test_only_one_of_many_simultaneous_lockers_wins(server_url: str) -> None:
    admin = Client(server_url)
    admin.signIn("admin", ADMIN_PASSWORD)
    admin.create({"_id": "/shots/sh010.ma", "origin": "paris"})
    names = [f"artist{i}" for i in range(6)]
    for name in names:
        admin.create({"_id": f"@{name}", "class": "user", "password": f"pw-{name}"})
    clients = []
    for name in names:
        client = Client(server_url)
        client.signIn(name, f"pw-{name}")
        clients.append(client)
    results: dict[str, bool] = {}
    barrier = threading.Barrier(len(clients))

    def attempt(name: str, client: Client) -> None:
        barrier.wait()
        try:
            results[name] = bool(client.lock("/shots/sh010.ma"))
        except ApiError:
            results[name] = False

    threads = [
        threading.Thread(target=attempt, args=(n, c)) for n, c in zip(names, clients, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [n for n, ok in results.items() if ok]
    assert len(winners) == 1, results
    assert admin.read("/shots/sh010.ma")["lock"] == winners[0]
