"""The web routes over HTTP (in-process client, real app, real store on SQLite and PostgreSQL).

The page is rendered per class (a guest's HTML holds no write control at all), the JSON
endpoints need a token and answer bad input with a 400 naming the field. The grid narrows to
files in error on request, the sites carry their last hour, the app serves its own icon.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.auth import issue_token
from api.settings import Settings
from reconciler.services.metrics import Metrics
from reconciler.store import Store

SECRET = "routes-secret"
T = 1_700_000_000_000
FILE = "/shots/a b.exr"  # a space: the history is not found through the search grammar


@pytest.fixture
def client(store: Store, store_url: str) -> Iterator[TestClient]:
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with store.write() as tx:
        for name, cls in (("gina", "guest"), ("alice", "user"), ("ed", "editor")):
            tx.put(
                {"_id": f"@{name}", "username": name, "class": cls, "password": hasher.hash(name)}
            )
        tx.put({"_id": "hub/hub", "url": "/srv/hub/"})
        tx.put(
            {
                "_id": "volume/paris",
                "url": "ssh://u@127.0.0.1:22/srv/",
                "last_scan": T,
                "lastConnectionAttempt": T,
                "lastConnectionSuccess": T - 5,
                "exit_scan": 255,
                "stderr_scan": "ssh: connect to host 127.0.0.1 port 22: Connection refused",
            }
        )
        tx.put({"_id": "volume/tokyo", "url": "/srv/tokyo/", "enabled": False})
        tx.put({"_id": FILE, "origin": "paris", "time": T, "author": "alice", "comment": "v1"})
        tx.put(
            {
                "_id": "h1",
                "#parent": FILE,
                "origin": "paris",
                "comment": "v1",
                "time": T,
                "author": "alice",
            }
        )
        tx.put({"_id": "h2", "#parent": FILE, "comment": "approved", "time": T + 5, "author": "ed"})
    settings = Settings.from_env(db_url=store_url, secret=SECRET)
    app = create_app(settings, store=store, metrics=Metrics(CollectorRegistry()), hasher=hasher)
    with TestClient(app) as http:
        yield http


def sign(client: TestClient, store: Store, user: str | None) -> None:
    client.cookies.clear()
    if user is not None:
        with store.read() as tx:
            doc = tx.get(f"@{user}")
        assert doc is not None
        client.cookies.set("token", issue_token(SECRET, doc, lifetime=3600, now_s=time.time()))


@pytest.mark.parametrize(
    ("user", "present", "absent"),
    [
        (None, ['id="signin"'], ['id="grid"', "tpl-file-actions"]),
        (
            "gina",
            ['id="grid"', 'data-class="guest"'],
            ["tpl-file-actions", "tpl-priority", 'id="publish"', 'id="signin"'],
        ),
        ("alice", ["tpl-file-actions", 'id="publish"'], ["tpl-priority"]),
        ("ed", ["tpl-file-actions", "tpl-priority", 'id="publish"'], []),
    ],
)
def test_page_holds_only_the_controls_of_the_class(
    client: TestClient, store: Store, user: str | None, present: list[str], absent: list[str]
) -> None:
    sign(client, store, user)
    reply = client.get("/")
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store"
    for text in present:
        assert text in reply.text
    for text in absent:
        assert text not in reply.text


def test_a_forged_cookie_gets_the_sign_in_form(client: TestClient) -> None:
    client.cookies.set("token", "eyJhbGciOiJIUzI1NiJ9.eyJfaWQiOiJAZWQifQ.bad")
    assert 'id="signin"' in client.get("/").text
    assert client.get("/api/web/files").status_code == 401


def test_static_assets_and_nothing_else(client: TestClient) -> None:
    script = client.get("/web/static/app.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/web/static/style.css").headers["content-type"].startswith("text/css")
    for name in ("../routes/web.py", "..%2Fpage.py", ".hidden.js", "nope.js", "app.py"):
        assert client.get(f"/web/static/{name}").status_code == 404


def test_the_app_serves_its_own_icon(client: TestClient, store: Store) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content == client.get("/web/static/favicon.svg").content
    assert icon.text.startswith("<svg") and "http" not in icon.text.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )  # nothing fetched from elsewhere
    for user in (None, "gina"):
        sign(client, store, user)
        assert '<link rel="icon" href="/web/static/favicon.svg?v=' in client.get("/").text


@pytest.mark.parametrize("path", ["/api/web/files", "/api/web/sites", f"/api/web/file?id={FILE}"])
def test_json_endpoints_need_a_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "size"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"q": "_id:/[/"}, "q"),
        ({"cursor": "!!"}, "cursor"),
        ({"errors": "maybe"}, "errors"),
    ],
)
def test_bad_grid_queries_are_400_naming_the_field(
    client: TestClient, store: Store, params: dict[str, str], field: str
) -> None:
    sign(client, store, "gina")
    reply = client.get("/api/web/files", params=params)
    assert reply.status_code == 400
    assert field in reply.text


def test_grid_search_and_detail_with_history(client: TestClient, store: Store) -> None:
    sign(client, store, "gina")
    grid = client.get("/api/web/files", params={"q": "origin:paris author:alice"}).json()
    assert [f["id"] for f in grid["files"]] == [FILE]
    assert grid["next"] is None
    assert client.get("/api/web/files", params={"q": "origin:tokyo"}).json()["files"] == []

    detail = client.get("/api/web/file", params={"id": FILE}).json()
    assert detail["doc"]["comment"] == "v1"
    assert [h["_id"] for h in detail["history"]] == ["h2", "h1"]  # newest first
    assert detail["row"]["cells"]["hub"]["state"] == "missing"
    assert [s["name"] for s in detail["sites"]] == ["hub", "paris", "tokyo"]

    assert client.get("/api/web/file", params={"id": "/no/such.exr"}).status_code == 404
    bad = client.get("/api/web/file", params={"id": "/a/../etc/passwd"})
    assert bad.status_code == 400
    assert bad.text.startswith("id:")


def test_errors_only_keeps_the_files_whose_last_attempt_failed(
    client: TestClient, store: Store
) -> None:
    failed = "/shots/failed.exr"
    with store.write() as tx:
        tx.put({"_id": "/shots/fine.exr", "origin": "paris", "time": T + 1})
        tx.put({"_id": failed, "origin": "paris", "time": T + 2, "syncError_hub": 23})
        tx.put({"_id": "/shots/old.exr", "origin": "paris", "time": T + 3, "synced_hub": T})
    sign(client, store, "gina")

    def ids(**params: str) -> list[str]:
        reply = client.get("/api/web/files", params=params)
        assert reply.status_code == 200, reply.text
        assert reply.json()["errors"] is (params.get("errors") == "true")
        return [f["id"] for f in reply.json()["files"]]

    assert len(ids()) == 4
    for sort in ("time", "priority", "path"):
        assert ids(errors="true", sort=sort) == [failed]
    assert ids(errors="true", q="origin:paris") == [failed]
    assert ids(errors="true", q="_id:/fine/") == []
    assert ids(errors="false") == ids()
    page = client.get("/api/web/files", params={"errors": "true", "limit": "1"}).json()
    assert page["next"] is None
    assert page["files"][0]["cells"]["hub"]["state"] == "error"

    with store.write() as tx:  # the retry succeeded: no longer in error
        tx.patch(failed, {"syncError_hub": None, "synced_hub": T + 2})
    assert ids(errors="true") == []


def test_sites_carry_their_last_hour(client: TestClient, store: Store) -> None:
    with store.engine.begin() as conn:  # the PostgreSQL database is shared by the session
        conn.execute(sa.text("DELETE FROM site_samples"))
    with store.write() as tx:  # the hub receives FILE (an emission)
        tx.patch(FILE, {"synced_hub": int(time.time() * 1000), "file_size": 1000})
    sign(client, store, "gina")
    reply = client.get("/api/web/sites").json()
    sites = {s["name"]: s["activity"] for s in reply["sites"]}
    assert sorted(sites) == ["hub", "paris", "tokyo"]
    hub = sites["hub"]
    assert hub["step"] == 60_000 and len(hub["deliveredBytes"]) == 60
    assert hub["start"] + 59 * 60_000 <= reply["now"] < hub["start"] + 60 * 60_000
    assert (sum(hub["deliveredFiles"]), sum(hub["deliveredBytes"])) == (1, 1000)
    assert hub["backlogFiles"][-1] == 0 and hub["backlogBytes"][-1] == 0
    assert sum(sites["paris"]["deliveredFiles"]) == 0  # the origin: nothing to deliver


def test_sites_panel_colours(client: TestClient, store: Store) -> None:
    sign(client, store, "gina")
    sites = {s["name"]: s for s in client.get("/api/web/sites").json()["sites"]}
    assert sites["hub"]["status"] == "ok"  # a local hub needs no connection
    assert sites["hub"]["backlogFiles"] == 1
    assert sites["paris"]["reachable"] is False
    assert sites["paris"]["status"] == "error"
    assert sites["paris"]["exit"]["scan"] == 255
    assert "Connection refused" in sites["paris"]["stderr"]["scan"]
    assert sites["tokyo"]["status"] == "disabled"
