"""damas-core's create/read/update/upsert/delete/graph cases: status codes and reply shapes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, MakeApi

SEED: list[dict[str, Any]] = [
    {"_id": "/a", "x": 1},
    {"_id": "/b", "x": 2},
    {"_id": "note", "k": "v"},
    {"_id": "edge1", "src_id": "/b", "tgt_id": "/a"},
    {"_id": "edge2", "src_id": "note", "tgt_id": "/b"},
]


@pytest.fixture
def seeded(api: Api) -> Api:
    with api.store.write() as tx:
        tx.insert_many(SEED)
    return api


def ids_of(body: Any) -> Any:
    """Replace objects by their _id so replies compare simply."""
    if isinstance(body, list):
        return [ids_of(b) for b in body]
    if isinstance(body, dict):
        return body.get("_id")
    return body


CASES = [
    # create: ids (v2.6), 201 / 207 with nulls / 409
    ("create one", "POST", "/api/create/", {"_id": "/new"}, 201, "/new"),
    ("create empty object", "POST", "/api/create/", {}, 201, str),
    ("create array", "POST", "/api/create/", [{"_id": "/n1"}, {"_id": "/n2"}], 201, ["/n1", "/n2"]),
    ("create array of one", "POST", "/api/create/", [{"_id": "/n1"}], 201, ["/n1"]),
    (
        "create some exist",
        "POST",
        "/api/create/",
        [{"_id": "/a"}, {"_id": "/n"}],
        207,
        [None, "/n"],
    ),
    ("create exists", "POST", "/api/create/", {"_id": "/a"}, 409, None),
    ("create all exist", "POST", "/api/create/", [{"_id": "/a"}, {"_id": "/b"}], 409, None),
    (
        "create unfold ids",
        "POST",
        "/api/create/",
        {"_id": ["/u1", "/u2"], "k": 1},
        201,
        ["/u1", "/u2"],
    ),
    ("create null element", "POST", "/api/create/", [None], 400, None),
    ("create string element", "POST", "/api/create/", ["abc"], 400, None),
    ("create empty array", "POST", "/api/create/", [], 400, None),
    ("create numeric id", "POST", "/api/create/", {"_id": 5}, 400, None),
    # read
    ("read one", "GET", "/api/read//a", None, 200, "/a"),
    ("read two", "GET", "/api/read//a,/b", None, 200, ["/a", "/b"]),
    ("read some missing", "GET", "/api/read//a,/zz", None, 207, ["/a", None]),
    ("read duplicates", "GET", "/api/read//a,/a", None, 200, ["/a", "/a"]),
    ("read missing", "GET", "/api/read//zz", None, 404, None),
    ("read all missing", "GET", "/api/read//zz,/yy", None, 404, None),
    ("read empty", "GET", "/api/read/", None, 400, None),
    ("read post one", "POST", "/api/read/", "/a", 200, "/a"),
    ("read post array of one", "POST", "/api/read/", ["/a"], 200, ["/a"]),
    ("read post some missing", "POST", "/api/read/", ["/zz", "note"], 207, [None, "note"]),
    ("read post missing", "POST", "/api/read/", "/zz", 404, None),
    ("read post empty array", "POST", "/api/read/", [], 400, None),
    ("read post object", "POST", "/api/read/", {}, 400, None),
    ("read post bad element", "POST", "/api/read/", [{"a": None}], 400, None),
    ("read post number", "POST", "/api/read/", 5, 400, None),
    # update: one result is a bare object, even for an array
    ("update one", "PUT", "/api/update/", {"_id": "/a", "y": 1}, 200, "/a"),
    ("update array of one", "PUT", "/api/update/", [{"_id": "/a", "y": 1}], 200, "/a"),
    (
        "update two",
        "PUT",
        "/api/update/",
        [{"_id": "/a", "y": 1}, {"_id": "/b", "y": 1}],
        200,
        ["/a", "/b"],
    ),
    (
        "update some missing",
        "PUT",
        "/api/update/",
        [{"_id": "/a", "y": 1}, {"_id": "/zz", "y": 1}],
        207,
        ["/a", None],
    ),
    ("update missing", "PUT", "/api/update/", {"_id": "/zz", "y": 1}, 404, None),
    ("update id array", "PUT", "/api/update/", {"_id": ["/a", "/b"], "y": 3}, 200, ["/a", "/b"]),
    (
        "update null entry echoed",
        "PUT",
        "/api/update/",
        ["null", {"_id": "/a", "y": 1}],
        200,
        ["null", "/a"],
    ),
    ("update empty object", "PUT", "/api/update/", {}, 400, None),
    ("update only id", "PUT", "/api/update/", {"_id": "/a"}, 400, None),
    ("update string", "PUT", "/api/update/", "/a", 400, None),
    # upsert: always 200
    ("upsert new", "POST", "/api/upsert/", {"_id": "/n", "k": 1}, 200, "/n"),
    ("upsert existing", "POST", "/api/upsert/", {"_id": "/a", "k": 1}, 200, "/a"),
    (
        "upsert mixed: created first",
        "POST",
        "/api/upsert/",
        [{"_id": "/a", "k": 1}, {"_id": "/n", "k": 1}],
        200,
        ["/n", "/a"],
    ),
    ("upsert null id generates", "POST", "/api/upsert/", {"_id": "null", "k": 1}, 200, str),
    ("upsert bad element", "POST", "/api/upsert/", [1], 400, None),
    # delete
    ("delete one", "DELETE", "/api/delete/", "/a", 200, "/a"),
    ("delete two", "DELETE", "/api/delete/", ["/a", "/b"], 200, ["/a", "/b"]),
    ("delete some missing", "DELETE", "/api/delete/", ["/a", "/zz"], 207, ["/a", None]),
    ("delete missing", "DELETE", "/api/delete/", "/zz", 404, None),
    ("delete all missing", "DELETE", "/api/delete/", ["/zz"], 404, None),
    ("delete empty string", "DELETE", "/api/delete/", "", 400, None),
    ("delete object", "DELETE", "/api/delete/", {}, 400, None),
    # graph: requested nodes, then sources walked through edges, then the edges
    ("graph depth 1", "GET", "/api/graph/1//a", None, 200, ["/a", "/b", "edge1"]),
    ("graph no limit", "GET", "/api/graph/0//a", None, 200, ["/a", "/b", "note", "edge1", "edge2"]),
    ("graph post", "POST", "/api/graph/0/", ["/b"], 200, ["/b", "note", "edge2"]),
    (
        "graph some missing",
        "POST",
        "/api/graph/1/",
        ["/zz", "/b"],
        207,
        [None, "/b", "note", "edge2"],
    ),
    ("graph missing", "GET", "/api/graph/0//zz", None, 404, None),
    ("graph get without depth", "GET", "/api/graph/a", None, 405, None),
    ("graph bad depth", "GET", "/api/graph/x//a", None, 400, None),
    ("graph negative depth", "GET", "/api/graph/-1//a", None, 400, None),
]


def reseed(api: Api) -> None:
    with api.store.write() as tx:
        tx.delete_many([d["_id"] for d in tx.iter_docs() if not d["_id"].startswith("@")])
        tx.insert_many(SEED)


def test_damas_status_codes(api: Api) -> None:
    """Every case of CASES, each on a freshly re-seeded store."""
    wrong = []
    for name, method, path, body, status, expected in CASES:
        reseed(api)
        reply = api.call(method, path, body)
        if reply.status_code != status:
            wrong.append(f"{name}: {reply.status_code} != {status}: {reply.text[:150]}")
        elif status >= 400:
            if not (reply.headers["content-type"].startswith("text/plain") and reply.text):
                wrong.append(f"{name}: error reply without a plain-text message")
        else:
            got = ids_of(reply.json())
            good = isinstance(got, expected) if isinstance(expected, type) else got == expected
            if not good:
                wrong.append(f"{name}: {got} != {expected}")
    assert not wrong, "\n".join(wrong)


def test_create_sets_author_and_time_and_keeps_user_keys(api: Api) -> None:
    reply = api.call("POST", "/api/create/", {"_id": "/f", "mine": {"deep": [1, 2]}, "n": None})
    assert reply.status_code == 201
    doc = api.call("GET", "/api/read//f").json()
    assert doc["author"] == "admin" and isinstance(doc["time"], int)
    assert doc["mine"] == {"deep": [1, 2]} and doc["n"] is None


def test_create_generates_ids_for_missing_or_null(api: Api) -> None:
    first = api.call("POST", "/api/create/", {"k": 1}).json()
    second = api.call("POST", "/api/create/", {"_id": None, "k": 2}).json()
    assert first != second and len(first) == 24
    assert api.call("GET", f"/api/read/{second}").json()["k"] == 2


def test_update_null_deletes_and_keeps_author_time(seeded: Api) -> None:
    before = seeded.call("GET", "/api/read//a").json()
    with seeded.store.write() as tx:
        tx.patch("/a", {"author": "bob", "time": 5})
    reply = seeded.call("PUT", "/api/update/", {"_id": "/a", "x": None, "z": "new"})
    assert reply.status_code == 200
    doc = seeded.call("GET", "/api/read//a").json()
    assert "x" in before and "x" not in doc and doc["z"] == "new"
    assert (doc["author"], doc["time"]) == ("bob", 5)


def test_upsert_keeps_author_and_time_of_existing(seeded: Api) -> None:
    with seeded.store.write() as tx:
        tx.patch("/a", {"author": "bob", "time": 5})
    reply = seeded.call("POST", "/api/upsert/", {"_id": "/a", "k": 1}, user="ed", cls="editor")
    assert reply.status_code == 200
    assert reply.json() | {"k": 1} == reply.json()
    assert (reply.json()["author"], reply.json()["time"]) == ("bob", 5)


def test_delete_does_not_cascade(seeded: Api) -> None:
    assert seeded.call("DELETE", "/api/delete/", "/a").status_code == 200
    assert seeded.call("GET", "/api/read/edge1").status_code == 200


def test_create_returns_objects_when_configured(make_api: MakeApi) -> None:
    api = make_api(create_returns_obj=True)
    reply = api.call("POST", "/api/create/", {"_id": "/o", "k": 1})
    assert reply.status_code == 201
    assert reply.json()["_id"] == "/o" and reply.json()["author"] == "admin"
    reply = api.call("POST", "/api/create/", [{"_id": "/o"}, {"_id": "/p"}])
    assert reply.status_code == 207
    assert reply.json()[0] is None and reply.json()[1]["_id"] == "/p"


def test_writes_keep_the_work_queue_rows(api: Api) -> None:
    """Documents written through the API have their file_sites rows (config then file)."""
    api.call(
        "POST",
        "/api/create/",
        [{"_id": "hub/hub", "url": "/tmp/hub/"}, {"_id": "volume/paris", "url": "/tmp/paris/"}],
    )
    api.call("POST", "/api/publish/", {"_id": "/s.exr", "origin": "paris", "comment": "c"})
    from reconciler.store.queue import emission_queue

    with api.store.read() as tx:
        queue = emission_queue(tx, "hub", "paris", 10, now=0)
    assert [item.file_id for item in queue] == ["/s.exr"]
    api.call("DELETE", "/api/delete/", "/s.exr")
    with api.store.read() as tx:
        assert emission_queue(tx, "hub", "paris", 10, now=0) == []
