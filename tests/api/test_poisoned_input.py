"""Lone surrogates (`"\\ud800"`) are refused at parsing, on every route (issue 11).

Stored on SQLite, one such value made every reply holding it a 500 (`POST /api/read/`, the
web page's file list) until an editor deleted the file; in an `_id` it was a 500 at once,
and on PostgreSQL the write itself was a 500. Bodies are sent as raw JSON text: the escape
must reach the server as written.
"""

from __future__ import annotations

import base64

from tests.api.conftest import Api

LONE = "\\ud800"  # as written in JSON text
LOW = "\\udc00"

# (method, path, JSON text): every route that parses a JSON body
POISONED: list[tuple[str, str, str]] = [
    ("POST", "/api/create/", f'{{"_id": "/p", "k": "{LONE}"}}'),
    ("POST", "/api/create/", f'{{"_id": "/p", "{LONE}": 1}}'),
    ("POST", "/api/create/", f'{{"_id": "/p{LONE}"}}'),
    ("POST", "/api/create/", f'[{{"_id": "/q"}}, {{"_id": "/p", "deep": [{{"x": ["{LOW}"]}}]}}]'),
    ("PUT", "/api/update/", f'{{"_id": "/ok", "k": "a{LONE}b"}}'),
    ("POST", "/api/upsert/", f'{{"_id": "/ok", "k": "{LONE}"}}'),
    ("POST", "/api/publish/", f'{{"_id": "/p", "origin": "paris", "comment": "{LONE}"}}'),
    ("POST", "/api/comment/", f'{{"#parent": "/ok", "comment": "{LONE}"}}'),
    ("POST", "/api/version//ok", f'{{"file": "{LONE}"}}'),
    ("PUT", "/api/lock/", f'"/ok{LONE}"'),
    ("PUT", "/api/unlock/", f'["/ok{LONE}"]'),
    ("DELETE", "/api/delete/", f'"/ok{LONE}"'),
    ("POST", "/api/read/", f'["/ok", "/x{LONE}"]'),
    ("POST", "/api/graph/0/", f'"/ok{LONE}"'),
    ("POST", "/api/search_mongo/", f'{{"query": {{"k": "{LONE}"}}}}'),
    ("POST", "/api/search_mongo/", f'{{"query": {{"{LONE}": 1}}}}'),
    ("POST", "/api/search_mongo/", '{"queryobj": "{\\"k\\": \\"\\\\ud800\\"}"}'),
    ("POST", "/api/signIn", f'{{"username": "admin{LONE}", "password": "x"}}'),
    ("POST", "/api/createToken", f'{{"name": "{LONE}"}}'),
    ("POST", "/api/changePassword/", f'{{"password": "x", "newPassword": "{LONE}"}}'),
    ("POST", "/api/declarative/apply", f'{{"manifests": [], "x": "{LONE}"}}'),
    ("POST", "/api/declarative/diff", f'{{"manifests": [], "x": "{LONE}"}}'),
]


def _send(api: Api, method: str, path: str, text: str) -> None:
    headers = {**api.headers(), "Content-Type": "application/json"}
    reply = api.http.request(method, path, content=text.encode(), headers=headers)
    assert reply.status_code == 400, (method, path, text, reply.status_code, reply.text)
    assert "surrogate" in reply.text, reply.text


def test_lone_surrogates_are_400_on_every_route_and_nothing_is_stored(api: Api) -> None:
    assert (
        api.call("POST", "/api/create/", {"_id": "/ok", "file": "/ok", "k": "fine"}).status_code
        == 201
    )
    for method, path, text in POISONED:
        _send(api, method, path, text)
    with api.store.read() as tx:
        assert tx.get("/p") is None and tx.get("/q") is None
        assert (tx.get("/ok") or {})["k"] == "fine"
        ids = [r[0] for r in tx.conn.exec_driver_sql("SELECT id FROM nodes")]
    assert sorted(ids) == ["/ok", "@admin"]


def test_reads_searches_and_the_web_list_still_work_afterwards(api: Api) -> None:
    api.call("POST", "/api/create/", {"_id": "/ok", "k": "fine"})
    _send(api, "POST", "/api/create/", f'{{"_id": "/shots/bad.exr", "k": "{LONE}"}}')
    _send(
        api,
        "POST",
        "/api/publish/",
        f'{{"_id": "/shots/p.exr", "origin": "paris", "comment": "{LONE}"}}',
    )
    read = api.call("POST", "/api/read/", ["/ok", "/shots/bad.exr"])
    assert read.status_code == 207 and read.json()[0]["k"] == "fine"
    assert api.call("GET", "/api/read//ok").status_code == 200
    assert api.call("GET", "/api/search/k:fine").json() == ["/ok"]
    found = api.call("POST", "/api/search_mongo/", {"query": {}})
    assert found.status_code == 200 and found.json()["count"] == 2
    listing = api.http.get("/api/web/files", headers=api.headers())
    assert listing.status_code == 200, listing.text


def test_valid_surrogate_pairs_are_ordinary_text(api: Api) -> None:
    text = '{"_id": "/emoji", "k": "\\ud83d\\ude00"}'
    headers = {**api.headers(), "Content-Type": "application/json"}
    reply = api.http.post("/api/create/", content=text.encode(), headers=headers)
    assert reply.status_code == 201
    assert api.call("GET", "/api/read//emoji").json()["k"] == "\U0001f600"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_lone_surrogate_in_a_token_is_401(api: Api) -> None:
    """The token's `_id` claim is read before the signature is checked (to find the key)."""
    header, claims = _b64(b'{"alg":"HS256"}'), _b64(b'{"_id":"@a\\ud800"}')
    token = f"{header}.{claims}.{_b64(b'sig')}"
    for path in ("/api/verify", "/api/read//x", "/api/search/k:1", "/api/web/files"):
        reply = api.http.get(path, headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 401, (path, reply.status_code, reply.text)


def test_forged_web_list_cursors_are_400(api: Api) -> None:
    forged = [
        ("time", b'[1, "\\ud800"]'),
        ("path", b'["\\ud800"]'),
        ("path", b'["a\\u0000"]'),
        ("time", b'[99999999999999999999999, "x"]'),
    ]
    for sort, raw in forged:
        params = {"sort": sort, "cursor": _b64(raw)}
        reply = api.http.get("/api/web/files", params=params, headers=api.headers())
        assert reply.status_code == 400, (raw, reply.status_code, reply.text)
