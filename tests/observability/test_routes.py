"""The observability routes through the real app (TestClient), with a signed-in user."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.settings import Settings
from reconciler.services.metrics import Metrics
from reconciler.store import Store
from tests.observability.seed import MIN, NOW, seed

FILES = [
    {"_id": "/shots/a.exr", "origin": "paris", "time": NOW - 9 * MIN, "file_size": 10,
     "synced_hub": NOW - 8 * MIN},
    {"_id": "/shots/b.exr", "origin": "paris", "time": NOW - 7 * MIN, "file_size": 20,
     "synced_hub": NOW - 6 * MIN},
    {"_id": "/pkg/seq/", "origin": "paris", "time": NOW - 5 * MIN},
]  # fmt: skip


def make_client(store: Store, metrics_token: str | None = None) -> TestClient:
    settings = Settings(db_url="unused://", secret="test-secret", admin_password="s3cret",
                        metrics_token=metrics_token)  # fmt: skip
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    app = create_app(settings, store=store, metrics=Metrics(CollectorRegistry()), hasher=hasher)
    return TestClient(app)


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    seed(store, *FILES)
    with make_client(store) as c:
        reply = c.post("/api/signIn", json={"username": "admin", "password": "s3cret"})
        assert reply.status_code == 200, reply.text
        c.headers["Authorization"] = f"Bearer {reply.json()['token']}"
        yield c


def test_status_route(client: TestClient) -> None:
    reply = client.get("/api/status")
    assert reply.status_code == 200
    sites = {s["site"]: s for s in reply.json()}
    assert sites["tokyo"]["files"]["missing"] == 3
    assert sites["hub"]["pending_bytes"] == 0 and sites["hub"]["files"]["missing"] == 1
    assert sites["tokyo"]["reachable"] is True


def test_describe_and_explain_routes(client: TestClient) -> None:
    d = client.get("/api/describe/shots/a.exr").json()
    assert d["file_id"] == "/shots/a.exr" and d["sites"][0]["site"] == "hub"
    assert client.get("/api/describe/%2Fshots%2Fb.exr").json()["file_id"] == "/shots/b.exr"
    assert client.get("/api/describe/pkg/seq/").json()["file_id"] == "/pkg/seq/"
    items = client.get("/api/explain/shots/b.exr", params={"site": "tokyo"}).json()
    assert [e["site"] for e in items] == ["tokyo"]
    assert items[0]["queue_position"] == 2 and items[0]["bytes_ahead"] == 10
    assert len(client.get("/api/explain/shots/b.exr").json()) == 4


def test_lists_routes(client: TestClient) -> None:
    down = client.get("/api/listdown/hub/tokyo/10").json()
    assert [e["file_id"] for e in down] == ["/shots/a.exr", "/shots/b.exr"]
    up = client.get("/api/listup/paris/hub/1").json()
    assert up == [{"file_id": "/pkg/seq/", "priority": 0, "failed": False,
                   "time": NOW - 5 * MIN, "file_size": 0}]  # fmt: skip


@pytest.mark.parametrize(
    ("url", "status", "text"),
    [
        ("/api/describe/nope", 404, "file /nope is not tracked"),
        ("/api/explain/shots/a.exr?site=mars", 404, "no hub or volume named 'mars'"),
        ("/api/explain/%2Fa%2F..%2Fb", 400, "'..' component"),
        ("/api/listdown/hub/tokyo/many", 400, "n: not an integer"),
        ("/api/listdown/hub/tokyo/0", 400, "n: must be between 1 and"),
        ("/api/listdown/tokyo/hub/5", 400, "src: downloads come from the hub"),
        ("/api/listup/mars/hub/5", 404, "src: no volume named 'mars'"),
    ],
)
def test_bad_requests_get_a_clear_4xx(client: TestClient, url: str, status: int,
                                      text: str) -> None:  # fmt: skip
    reply = client.get(url)
    assert reply.status_code == status
    assert text in reply.text


def test_routes_need_a_token(store: Store) -> None:
    seed(store, *FILES)
    with make_client(store) as c:
        for url in ("/api/status", "/api/describe/shots/a.exr", "/api/explain/shots/a.exr",
                    "/api/listup/paris/hub/5", "/api/listdown/hub/tokyo/5"):  # fmt: skip
            assert c.get(url).status_code == 401, url


def test_metrics_open_by_default(store: Store) -> None:
    seed(store, *FILES)
    with make_client(store) as c:
        reply = c.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    assert 'syncplanet_files{site="tokyo",state="missing"} 3.0' in reply.text
    assert 'syncplanet_build_info{version="0.1.0"} 1.0' in reply.text
    assert "/shots" not in reply.text  # no file paths in labels


def test_metrics_token(store: Store) -> None:
    seed(store, *FILES)
    with make_client(store, metrics_token="scrape-me") as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = c.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert ok.status_code == 200 and "syncplanet_pending_bytes" in ok.text
