"""`GET /api/read/<id>` in a real uvicorn server: concurrent reads, fresh reads, reconnection.

On PostgreSQL the lean read awaits its query on a few asynchronous connections of the event
loop (`api.fastread`): overlapping requests must each get their own documents, a read must
see the write committed before it, and a connection the server dropped is reopened.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from reconciler.store import Store
from tests.api.conftest import ADMIN_PASSWORD

FILES = 60


def _token(client: httpx.Client) -> str:
    reply = client.post("/api/signIn", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert reply.status_code == 200, reply.text
    token: str = reply.json()["token"]
    return token


async def _read_all(url: str, token: str) -> list[tuple[int, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        replies = await asyncio.gather(
            *(client.get(f"/api/read//r/f{i}") for i in range(FILES)),
            *(client.get(f"/api/read//r/f{i},/r/f{(i + 1) % FILES}") for i in range(FILES)),
        )
    return [(r.status_code, r.json()) for r in replies]


def test_overlapping_reads_each_get_their_documents(server_url: str) -> None:
    with httpx.Client(base_url=server_url) as client:
        token = _token(client)
        headers = {"Authorization": f"Bearer {token}"}
        docs = [{"_id": f"/r/f{i}", "n": i} for i in range(FILES)]
        assert client.post("/api/create/", json=docs, headers=headers).status_code == 201
    replies = asyncio.run(_read_all(server_url, token))
    singles, pairs = replies[:FILES], replies[FILES:]
    assert [(s, d["n"]) for s, d in singles] == [(200, i) for i in range(FILES)]
    assert [(s, [d["n"] for d in ds]) for s, ds in pairs] == [
        (200, [i, (i + 1) % FILES]) for i in range(FILES)
    ]


def test_a_read_sees_the_last_write_and_survives_dropped_connections(
    server_url: str, store_url: str
) -> None:
    with httpx.Client(base_url=server_url) as client:
        headers = {"Authorization": f"Bearer {_token(client)}"}
        assert client.post("/api/create/", json={"_id": "/x", "n": 0}, headers=headers).is_success
        for n in range(1, 4):
            assert client.get("/api/read//x", headers=headers).json()["n"] == n - 1
            updated = client.put("/api/update/", json={"_id": ["/x"], "n": n}, headers=headers)
            assert updated.is_success, updated.text
            assert client.get("/api/read//x", headers=headers).json()["n"] == n
        if store_url.startswith("postgresql"):
            _drop_other_connections(store_url)
            reply = client.get("/api/read//x", headers=headers)
            assert reply.status_code == 200 and reply.json()["n"] == 3


def _drop_other_connections(url: str) -> None:
    """What a server restart does to the tracker's connections to this database."""
    import sqlalchemy as sa

    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        store.close()
