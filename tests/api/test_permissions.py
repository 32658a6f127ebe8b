"""The class x route matrix (guest, user, editor, admin), restricted keys and authorMode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api.conftest import Api, MakeApi

CLASSES = ["guest", "user", "editor", "admin"]
Body = Callable[[str], Any]

# (name, method, path(cls), body(cls), lowest class allowed)
ROUTES: list[tuple[str, str, Callable[[str], str], Body, str]] = [
    ("read get", "GET", lambda c: "/api/read//seed", lambda c: None, "guest"),
    ("read post", "POST", lambda c: "/api/read/", lambda c: ["/seed"], "guest"),
    ("graph", "GET", lambda c: "/api/graph/0//seed", lambda c: None, "guest"),
    ("search", "GET", lambda c: "/api/search/k:1", lambda c: None, "guest"),
    ("search_one", "GET", lambda c: "/api/search_one/k:1", lambda c: None, "guest"),
    ("search_mongo", "POST", lambda c: "/api/search_mongo/", lambda c: {"query": {}}, "guest"),
    ("verify", "GET", lambda c: "/api/verify", lambda c: None, "guest"),
    ("createToken", "POST", lambda c: "/api/createToken", lambda c: {}, "guest"),
    ("read a user", "GET", lambda c: "/api/read/@admin", lambda c: None, "guest"),
    ("create", "POST", lambda c: "/api/create/", lambda c: {"_id": f"/c-{c}"}, "user"),
    (
        "publish",
        "POST",
        lambda c: "/api/publish/",
        lambda c: {"_id": f"/p-{c}", "origin": "paris", "comment": ""},
        "user",
    ),
    (
        "comment",
        "POST",
        lambda c: "/api/comment/",
        lambda c: {"#parent": "/seed", "comment": "nice"},
        "user",
    ),
    ("lock", "PUT", lambda c: "/api/lock/", lambda c: f"/l-{c}", "user"),
    ("unlock", "PUT", lambda c: "/api/unlock/", lambda c: f"/ul-{c}", "user"),
    ("version", "POST", lambda c: f"/api/version//v-{c}", lambda c: {"file": "/v.ma"}, "user"),
    ("update", "PUT", lambda c: "/api/update/", lambda c: {"_id": "/seed", "k": c}, "editor"),
    ("upsert", "POST", lambda c: "/api/upsert/", lambda c: {"_id": f"/u-{c}"}, "editor"),
    ("delete", "DELETE", lambda c: "/api/delete/", lambda c: f"/d-{c}", "editor"),
    (
        "create a user",
        "POST",
        lambda c: "/api/create/",
        lambda c: {"_id": f"@new{c}", "password": "x"},
        "admin",
    ),
    (
        "update a user",
        "PUT",
        lambda c: "/api/update/",
        lambda c: {"_id": "@target", "fullname": c},
        "admin",
    ),
    ("delete a user", "DELETE", lambda c: "/api/delete/", lambda c: f"@del{c}", "admin"),
    (
        "create a volume",
        "POST",
        lambda c: "/api/create/",
        lambda c: {"_id": f"volume/v{c}", "url": "/tmp/v/"},
        "admin",
    ),
    (
        "upsert global parameters",
        "POST",
        lambda c: "/api/upsert/",
        lambda c: {"_id": "rsyncGlobalParameters", "sleepBetweenScans": 30},
        "admin",
    ),
    (
        "update the hub",
        "PUT",
        lambda c: "/api/update/",
        lambda c: {"_id": "hub/hub", "rsync_args": "-v"},
        "admin",
    ),
    (
        "delete a sync target",
        "DELETE",
        lambda c: "/api/delete/",
        lambda c: f"synctarget/t{c}",
        "admin",
    ),
]


@pytest.fixture
def world(api: Api) -> Api:
    for cls in CLASSES:
        api.headers(f"the{cls}", cls)
    seed: list[dict[str, Any]] = [
        {"_id": "/seed", "k": 1},
        {"_id": "@target", "class": "user"},
        {"_id": "hub/hub", "url": "/tmp/hub/"},
    ]
    for cls in CLASSES:
        seed += [
            {"_id": f"/l-{cls}"},
            {"_id": f"/ul-{cls}", "lock": f"the{cls}"},
            {"_id": f"/v-{cls}", "file": "/v.ma", "time": 1},
            {"_id": f"/d-{cls}"},
            {"_id": f"@del{cls}"},
            {"_id": f"synctarget/t{cls}", "paths": ["/**"]},
        ]
    with api.store.write() as tx:
        tx.insert_many(seed)
    return api


@pytest.mark.parametrize("cls", CLASSES)
def test_class_matrix(world: Api, cls: str) -> None:
    """Every route for one class (one store per class keeps the matrix fast)."""
    wrong = []
    for name, method, path, body, lowest in ROUTES:
        reply = world.call(method, path(cls), body(cls), user=f"the{cls}", cls=cls)
        allowed = CLASSES.index(cls) >= CLASSES.index(lowest)
        ok = (
            reply.status_code < 300
            if allowed
            else (reply.status_code == 403 and "Forbidden" in reply.text)
        )
        if not ok:
            wrong.append(f"{name}: {reply.status_code} {reply.text[:120]}")
    assert not wrong, "\n".join(wrong)


def test_non_admins_cannot_set_author_or_time(api: Api) -> None:
    api.call(
        "POST",
        "/api/create/",
        {"_id": "/x", "author": "mallory", "time": 5},
        user="ursula",
        cls="user",
    )
    api.call(
        "PUT",
        "/api/update/",
        {"_id": "/x", "author": "mallory", "time": 6, "k": 1},
        user="ed",
        cls="editor",
    )
    doc = api.call("GET", "/api/read//x").json()
    assert doc["author"] == "ursula" and doc["time"] > 10**12 and doc["k"] == 1
    api.call("PUT", "/api/update/", {"_id": "/x", "author": "mallory", "time": 6})
    doc = api.call("GET", "/api/read//x").json()
    assert (doc["author"], doc["time"]) == ("mallory", 6)


def test_class_change_applies_to_existing_tokens(api: Api) -> None:
    assert (
        api.call("POST", "/api/create/", {"_id": "/a"}, user="pat", cls="user").status_code == 201
    )
    api.call("PUT", "/api/update/", {"_id": "@pat", "class": "guest"})
    assert api.call("POST", "/api/create/", {"_id": "/b"}, user="pat").status_code == 403


@pytest.fixture
def authored(make_api: MakeApi) -> Api:
    api = make_api(author_mode=True)
    for name in ("alice", "bob"):
        api.headers(name, "editor")
    with api.store.write() as tx:
        tx.insert_many(
            [
                {"_id": "/alice1", "author": "alice"},
                {"_id": "/alice2", "author": "alice"},
                {"_id": "/bob1", "author": "bob"},
                {"_id": "/both", "author": ["alice", "bob"]},
            ]
        )
    return api


AUTHOR_CASES = [
    ("update own", "PUT", "/api/update/", {"_id": "/bob1", "k": 1}, 200),
    ("update shared (author array)", "PUT", "/api/update/", {"_id": "/both", "k": 1}, 200),
    ("update other's", "PUT", "/api/update/", {"_id": "/alice1", "k": 1}, 403),
    (
        "update mixed",
        "PUT",
        "/api/update/",
        [{"_id": "/bob1", "k": 1}, {"_id": "/alice1", "k": 1}],
        207,
    ),
    ("update missing counts as owned", "PUT", "/api/update/", {"_id": "/none", "k": 1}, 404),
    ("delete other's", "DELETE", "/api/delete/", "/alice1", 403),
    ("delete mixed", "DELETE", "/api/delete/", ["/alice1", "/bob1"], 207),
    ("delete own", "DELETE", "/api/delete/", "/bob1", 200),
    ("upsert other's", "POST", "/api/upsert/", {"_id": "/alice1", "k": 1}, 403),
    ("upsert new", "POST", "/api/upsert/", {"_id": "/new", "k": 1}, 200),
    ("version other's", "POST", "/api/version//alice1", {"file": "/f.ma"}, 403),
    ("read is not filtered", "GET", "/api/read//alice1,/bob1", None, 200),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [c[1:] for c in AUTHOR_CASES],
    ids=[c[0] for c in AUTHOR_CASES],
)
def test_author_mode(authored: Api, method: str, path: str, body: Any, status: int) -> None:
    reply = authored.call(method, path, body, user="bob")
    assert reply.status_code == status, reply.text
    with authored.store.read() as tx:
        alice1 = tx.get("/alice1")
    assert alice1 is not None and "k" not in alice1  # never modified by bob


def test_author_mode_does_not_limit_admins(authored: Api) -> None:
    assert authored.call("PUT", "/api/update/", {"_id": "/alice1", "k": 2}).status_code == 200
    assert authored.call("DELETE", "/api/delete/", "/alice2").status_code == 200
