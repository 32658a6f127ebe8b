"""publish, comment, lock, unlock and version: the dam routes that crash in damas-core."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, MakeApi

PUBLISH = {"_id": "/shots/a.exr", "origin": "paris", "comment": "first", "sync_priority": 5}


def children(api: Api, parent: str) -> list[dict[str, Any]]:
    ids = api.call("GET", f"/api/search/%23parent:{parent}").json()
    return api.call("POST", "/api/read/", ids).json() if ids else []


def test_publish_creates_the_file_and_its_history_child(api: Api) -> None:
    reply = api.call("POST", "/api/publish/", PUBLISH, user="ann", cls="user")
    assert reply.status_code == 201
    parent_id, child_id = reply.json()
    assert parent_id == "/shots/a.exr"
    doc = api.call("GET", "/api/read//shots/a.exr").json()
    assert doc["author"] == "ann" and doc["origin"] == "paris" and doc["sync_priority"] == 5
    assert doc["synced_paris"] == doc["time"]  # the origin holds what it publishes
    child = api.call("GET", f"/api/read/{child_id}").json()
    assert child["#parent"] == "/shots/a.exr" and child["comment"] == "first"
    assert {k: v for k, v in child.items() if k not in ("_id", "#parent")} == {
        k: v for k, v in doc.items() if k != "_id"
    }


def test_publish_twice_is_a_conflict(api: Api) -> None:
    assert api.call("POST", "/api/publish/", PUBLISH).status_code == 201
    assert api.call("POST", "/api/publish/", PUBLISH).status_code == 409
    both = [PUBLISH, {**PUBLISH, "_id": "/shots/b.exr"}]
    reply = api.call("POST", "/api/publish/", both)
    assert reply.status_code == 207
    assert reply.json()[0] is None and reply.json()[1] == "/shots/b.exr"
    assert reply.json()[2] is None and isinstance(reply.json()[3], str)
    assert len(children(api, "/shots/a.exr")) == 1


def test_publish_returns_objects_when_configured(make_api: MakeApi) -> None:
    api = make_api(create_returns_obj=True)
    parent, child = api.call("POST", "/api/publish/", PUBLISH).json()
    assert parent["_id"] == "/shots/a.exr" and child["#parent"] == "/shots/a.exr"


PUBLISH_BAD: list[Any] = [
    {"origin": "paris", "comment": ""},
    {"_id": "note", "origin": "paris", "comment": ""},
    {"_id": "/a/../b", "origin": "paris", "comment": ""},
    {"_id": "/a", "comment": ""},
    {"_id": "/a", "origin": "Paris!", "comment": ""},
    {"_id": "/a", "origin": "paris"},
    {"_id": "/a", "origin": "paris", "comment": 3},
    [],
    "/a",
]


def test_publish_bad_input(api: Api) -> None:
    for body in PUBLISH_BAD:
        assert api.call("POST", "/api/publish/", body).status_code == 400, body
    with api.store.read() as tx:
        assert tx.get("/a") is None


def test_comment(api: Api) -> None:
    api.call("POST", "/api/create/", [{"_id": "/a"}, {"_id": "/b"}])
    reply = api.call(
        "POST",
        "/api/comment/",
        {"#parent": "/a", "comment": "ok", "mood": 1},
        user="cid",
        cls="user",
    )
    assert reply.status_code == 201 and len(reply.json()) == 1
    note = api.call("GET", f"/api/read/{reply.json()[0]}").json()
    assert (note["#parent"], note["comment"], note["mood"], note["author"]) == (
        "/a",
        "ok",
        1,
        "cid",
    )
    assert isinstance(note["time"], int)
    some = api.call("POST", "/api/comment/", {"#parent": ["/a", "/zz", "/b"], "comment": "x"})
    assert some.status_code == 207 and some.json()[1] is None
    assert api.call("POST", "/api/comment/", {"#parent": "/zz", "comment": "x"}).status_code == 404


def test_comment_bad_input(api: Api) -> None:
    api.call("POST", "/api/create/", {"_id": "/a"})
    for body in [
        {"#parent": "/a"},
        {"#parent": "/a", "comment": ""},
        {"comment": "x"},
        [{"#parent": "/a", "comment": "x"}],
        {"#parent": 3, "comment": "x"},
    ]:
        assert api.call("POST", "/api/comment/", body).status_code == 400, body


def test_lock_and_unlock(api: Api) -> None:
    api.call("POST", "/api/create/", [{"_id": "/a"}, {"_id": "/b"}])
    locked = api.call("PUT", "/api/lock/", "/a", user="lea", cls="user")
    assert locked.status_code == 200 and locked.json()["lock"] == "lea"
    assert api.call("PUT", "/api/lock/", "/a", user="lea").status_code == 200  # re-lock
    assert api.call("PUT", "/api/lock/", "/a", user="max", cls="user").status_code == 409
    assert api.call("PUT", "/api/lock/", "/a").status_code == 409  # admins included
    assert api.call("PUT", "/api/lock/", ["/b", "/a"], user="max").status_code == 409
    assert "lock" not in api.call("GET", "/api/read//b").json()  # all or nothing
    assert api.call("PUT", "/api/unlock/", "/a", user="max").status_code == 409
    assert api.call("PUT", "/api/unlock/", "/a", user="lea").status_code == 200
    assert "lock" not in api.call("GET", "/api/read//a").json()
    assert api.call("PUT", "/api/unlock/", "/a", user="lea").status_code == 409  # not locked
    two = api.call("PUT", "/api/lock/", ["/a", "/b"], user="max")
    assert two.status_code == 200 and [d["lock"] for d in two.json()] == ["max", "max"]
    some = api.call("PUT", "/api/lock/", ["/a", "/zz"], user="max")
    assert some.status_code == 207 and some.json()[1] is None
    assert api.call("PUT", "/api/lock/", "/zz").status_code == 404
    assert api.call("PUT", "/api/unlock/", ["/a", "/b"]).status_code == 200  # admin clears


def test_lock_bad_input(api: Api) -> None:
    for body in ["", [], {}, 3, [3]]:
        assert api.call("PUT", "/api/lock/", body).status_code == 400, body
        assert api.call("PUT", "/api/unlock/", body).status_code == 400, body


def test_version(api: Api) -> None:
    api.call(
        "POST", "/api/create/", {"_id": "/d/b.ma", "file": "/d/b.ma", "time": 1000, "old": "key"}
    )
    reply = api.call(
        "POST", "/api/version//d/b.ma", {"file": "/d/b.ma", "note": "v2"}, user="vic", cls="user"
    )
    assert reply.status_code == 201
    head = reply.json()
    assert head["version"] == 2 and head["author"] == "vic" and "old" not in head
    assert head["note"] == "v2"
    kept = children(api, "/d/b.ma")
    assert [(c["file"], c["old"]) for c in kept] == [("/d/b_1000.ma", "key")]
    assert api.call("POST", "/api/version//zz", {"file": "x"}).status_code == 404
    assert api.call("POST", "/api/version//d/b.ma", {"nofile": 1}).status_code == 400
    assert api.call("POST", "/api/version/@admin", {"file": "x"}).status_code == 400
