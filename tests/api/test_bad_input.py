"""Bad requests always get a clear 4xx (never a 500): JSON, types, ids, sizes, methods."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.api.conftest import Api, MakeApi

BAD_IDS = ["/a/../b", "/a/./b", "/a//b", "/a\x00b", "/", "/.syncplanet/trash/x", "//a"]


def write_routes(bad: str) -> list[tuple[str, str, Any]]:
    return [
        ("POST", "/api/create/", {"_id": bad}),
        ("POST", "/api/create/", [{"_id": "/ok"}, {"_id": bad}]),
        ("POST", "/api/read/", bad),
        ("POST", "/api/read/", ["/ok", bad]),
        ("PUT", "/api/update/", {"_id": bad, "k": 1}),
        ("POST", "/api/upsert/", {"_id": bad}),
        ("DELETE", "/api/delete/", bad),
        ("DELETE", "/api/delete/", [bad]),
        ("POST", "/api/graph/0/", [bad]),
        ("POST", "/api/publish/", {"_id": bad, "origin": "paris", "comment": ""}),
        ("POST", "/api/comment/", {"#parent": bad, "comment": "x"}),
        ("PUT", "/api/lock/", bad),
        ("PUT", "/api/unlock/", [bad]),
    ]


def test_invalid_file_ids_are_400_on_every_route(api: Api) -> None:
    for bad in BAD_IDS:
        for method, path, body in write_routes(bad):
            reply = api.call(method, path, body)
            assert reply.status_code == 400, (bad, method, path, reply.text)
            assert "Bad request" in reply.text
    with api.store.read() as tx:
        assert tx.get("/ok") is None  # a rejected request writes nothing


BAD_URLS = [
    "/api/read//a/%2E%2E/b",
    "/api/read//a/%2E/b",
    "/api/read//a//b",
    "/api/read//a%00b",
    "/api/read//ok,/a/%2E%2E/b",
    "/api/graph/0//a/%2E%2E/b",
    "/api/version//a/%2E%2E/b",
]


def test_invalid_file_ids_in_urls_are_400(api: Api) -> None:
    for path in BAD_URLS:
        method = "POST" if "version" in path else "GET"
        reply = api.call(method, path, {"file": "x"} if method == "POST" else None)
        assert reply.status_code == 400, (path, reply.text)


MALFORMED = [
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b"[-Infinity]",
    b'{"a": ',
    b"{'a': 1}",
    b"\xff\xfe",
    b"[" * 100000,
    b'{"_id": "/x"} trailing',
]


def test_malformed_json_is_400(api: Api) -> None:
    headers = {**api.headers(), "Content-Type": "application/json"}
    for raw in MALFORMED:
        for method, path in (
            ("POST", "/api/create/"),
            ("PUT", "/api/update/"),
            ("POST", "/api/search_mongo/"),
            ("POST", "/api/signIn"),
        ):
            reply = api.http.request(method, path, content=raw, headers=headers)
            assert reply.status_code == 400, (raw[:20], path, reply.text)
            assert "Traceback" not in reply.text


def test_empty_body_is_400(api: Api) -> None:
    for method, path in [
        ("POST", "/api/create/"),
        ("PUT", "/api/update/"),
        ("POST", "/api/upsert/"),
        ("DELETE", "/api/delete/"),
        ("POST", "/api/read/"),
        ("PUT", "/api/lock/"),
        ("POST", "/api/publish/"),
        ("POST", "/api/comment/"),
        ("POST", "/api/changePassword/"),
    ]:
        reply = api.http.request(method, path, headers=api.headers())
        assert reply.status_code == 400, (path, reply.text)


WRONG_TYPES: list[tuple[str, str, Any]] = [
    ("POST", "/api/create/", 5),
    ("POST", "/api/create/", "text"),
    ("POST", "/api/create/", True),
    ("PUT", "/api/update/", [5]),
    ("POST", "/api/upsert/", None),
    ("DELETE", "/api/delete/", 5),
    ("DELETE", "/api/delete/", [1, 2]),
    ("POST", "/api/read/", [None]),
    ("POST", "/api/search_mongo/", "origin:paris"),
    ("POST", "/api/graph/0/", {"a": 1}),
    ("POST", "/api/createToken", {"expiresIn": []}),
    ("POST", "/api/createToken", {"expiresIn": "-1d"}),
    ("POST", "/api/changePassword/", {"password": 1, "newPassword": 2}),
    ("GET", "/api/search/limit:1?limit=-1", None),
    ("GET", "/api/search/k:1?skip=x", None),
]


def test_wrong_types_are_400(api: Api) -> None:
    for method, path, body in WRONG_TYPES:
        reply = api.call(method, path, body)
        assert reply.status_code == 400, (method, path, body, reply.text)


def test_unknown_route_and_wrong_method(api: Api) -> None:
    assert api.call("GET", "/api/nothing").status_code == 404
    assert api.call("POST", "/api/search/x:1").status_code == 405
    assert api.call("GET", "/api/create/").status_code == 405
    assert api.call("PATCH", "/api/update/", {"_id": "/a", "k": 1}).status_code == 405


def test_oversized_bodies_are_413_and_store_nothing(make_api: MakeApi) -> None:
    api = make_api(max_body=2000)
    big = {"_id": "/big", "blob": "x" * 5000}
    reply = api.call("POST", "/api/create/", big)
    assert reply.status_code == 413 and "too large" in reply.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: the streamed count decides
        yield b'{"_id": "/big2", "blob": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    reply = api.http.post("/api/create/", content=chunks(), headers=api.headers())
    assert reply.status_code == 413
    with api.store.read() as tx:
        assert tx.get("/big") is None and tx.get("/big2") is None
    assert api.call("POST", "/api/create/", {"_id": "/small"}).status_code == 201


def test_openapi_and_healthz_are_public(api: Api) -> None:
    api.http.cookies.clear()
    doc = api.http.get("/openapi.json")
    assert doc.status_code == 200 and "/api/search_mongo/" in doc.json()["paths"]
    health = api.http.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"


ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    10**30,
    1e300,
    -1e-300,
    "",
    "x" * 5000,
    "a\u0000b",
    "é/ü",
    "/",
    "/a/../b",
    "@",
    "@a b",
    [],
    [None],
    [[["deep"]]],
    {},
    {"$where": 1},
    {"a\u0000": 1},
    ["/a", 5],
    {"_id": 10**30},
    {"_id": ["/a", "/a"]},
    {"_id": "/a", "time": "now"},
]
ODD_ROUTES = [
    ("POST", "/api/create/"),
    ("PUT", "/api/update/"),
    ("POST", "/api/upsert/"),
    ("DELETE", "/api/delete/"),
    ("POST", "/api/read/"),
    ("POST", "/api/graph/2/"),
    ("POST", "/api/search_mongo/"),
    ("POST", "/api/publish/"),
    ("POST", "/api/comment/"),
    ("PUT", "/api/lock/"),
    ("PUT", "/api/unlock/"),
    ("POST", "/api/version//a"),
    ("POST", "/api/createToken"),
    ("POST", "/api/changePassword/"),
    ("POST", "/api/signIn"),
]


def test_odd_values_never_give_a_500(api: Api) -> None:
    """Every odd value on every write route, as operands and as search terms (a 500 raises)."""
    api.call("POST", "/api/create/", [{"_id": "/a", "k": 1}, {"_id": "n", "k": "v"}])
    failures = []
    for value in ODD_VALUES:
        bodies = [
            value,
            {"query": {"k": value}},
            {"query": {"k": {"$gt": value}}},
            {"#parent": "/a", "comment": value},
            {"_id": "/a", "k": value},
        ]
        for method, path in ODD_ROUTES:
            for body in bodies:
                reply = api.call(method, path, body)
                if reply.status_code >= 500:
                    failures.append(f"{method} {path} {body!r}: {reply.text[:100]}")
    for term in [
        "k:",
        "k>",
        ":v",
        "k:/x/q",
        "k>=1e999",
        "time<-99999999999999999999999",
        "a.b.c:1",
        "k:%2500",
        "é:ü",
        "k:" + "z" * 3000,
        "_id>5",
        "#parent</",
    ]:
        reply = api.http.get("/api/search/" + term, headers=api.headers())
        if reply.status_code >= 500:
            failures.append(f"search {term!r}: {reply.text[:100]}")
    assert not failures, "\n".join(failures[:20])
