"""The web session over HTTP: the server-set cookie, the CSRF guard, the security headers.

In-process client on the real app and a real store (SQLite and PostgreSQL). The cookie is
HttpOnly, SameSite=Strict, Secure over HTTPS or with `cookie_secure`; a write signed in by
the cookie is refused unless `Origin` (or `Referer`) names this site and the body is JSON;
Bearer clients are unaffected; every reply carries the security headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from api.app import create_app
from api.settings import Settings
from reconciler.services.metrics import Metrics
from reconciler.store import Store

SITE = "http://testserver"
SAME = {"Origin": SITE}
FILE = "/shots/a.exr"


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _seed(store: Store, hasher: PasswordHasher) -> None:
    with store.write() as tx:
        for name, cls in (("gina", "guest"), ("alice", "user")):
            tx.put(
                {"_id": f"@{name}", "username": name, "class": cls, "password": hasher.hash(name)}
            )
        tx.put({"_id": FILE, "origin": "paris", "time": 1})


def _client(store: Store, store_url: str, hasher: PasswordHasher, **settings: Any) -> TestClient:
    _seed(store, hasher)
    config = Settings(db_url=store_url, secret="session-secret", **settings)
    app = create_app(config, store=store, metrics=Metrics(CollectorRegistry()), hasher=hasher)
    return TestClient(app)


@pytest.fixture
def client(store: Store, store_url: str, hasher: PasswordHasher) -> Iterator[TestClient]:
    with _client(store, store_url, hasher) as http:
        yield http


def sign_in(client: TestClient, user: str = "alice") -> Any:
    return client.post("/web/signin", json={"username": user, "password": user}, headers=SAME)


def bearer(client: TestClient, user: str = "alice") -> dict[str, str]:
    reply = client.post("/api/signIn", json={"username": user, "password": user})
    return {"Authorization": f"Bearer {reply.json()['token']}"}


def lock_of(store: Store) -> Any:
    with store.read() as tx:
        doc = tx.get(FILE)
    assert doc is not None
    return doc.get("lock")


def test_sign_in_sets_an_httponly_strict_cookie_the_reply_holds_no_token(
    client: TestClient,
) -> None:
    reply = sign_in(client)
    assert reply.status_code == 200, reply.text
    assert "token" not in reply.json() and reply.json()["_id"] == "@alice"
    cookie = reply.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith("token=ey")
    assert {"httponly", "samesite", "path"} <= attributes and "secure" not in attributes
    assert "samesite=strict" in cookie.lower()
    assert 'data-user="alice"' in client.get("/").text  # the page reads the cookie

    out = client.post("/web/signout", headers=SAME)
    assert out.status_code == 204
    assert (
        out.headers["set-cookie"].startswith('token=""')
        and "Max-Age=0" in out.headers["set-cookie"]
    )
    assert 'id="signin"' in client.get("/").text


def test_wrong_password_sets_no_cookie(client: TestClient) -> None:
    reply = client.post("/web/signin", json={"username": "alice", "password": "x"}, headers=SAME)
    assert reply.status_code == 401 and "set-cookie" not in reply.headers


def test_cookie_is_secure_over_https_or_when_configured(
    store: Store, store_url: str, hasher: PasswordHasher
) -> None:
    with _client(store, store_url, hasher) as http:
        http.base_url = http.base_url.copy_with(scheme="https")
        reply = http.post(
            "/web/signin",
            json={"username": "alice", "password": "alice"},
            headers={"Origin": "https://testserver"},
        )
        assert reply.status_code == 200, reply.text
        assert "secure" in reply.headers["set-cookie"].lower()
    with _client(store, store_url, hasher, cookie_secure=True) as http:
        assert "secure" in sign_in(http).headers["set-cookie"].lower()


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "https://testserver"},  # another scheme is another origin
        {"Origin": "http://testserver:8080"},
        {"Origin": "null"},
        {"Referer": "http://evil.example/page"},
        {},  # neither Origin nor Referer
    ],
)
def test_cross_site_writes_with_the_cookie_are_403(
    client: TestClient, store: Store, headers: dict[str, str]
) -> None:
    assert sign_in(client).status_code == 200
    reply = client.put("/api/lock/", json=FILE, headers=headers)
    assert reply.status_code == 403, reply.text
    assert "Forbidden" in reply.text
    assert lock_of(store) is None
    comment = {"#parent": FILE, "comment": "forged"}
    assert client.post("/api/comment/", json=comment, headers=headers).status_code == 403
    delete = client.request("DELETE", "/api/delete/", json=FILE, headers=headers)
    assert delete.status_code == 403
    with store.read() as tx:
        assert tx.get(FILE) is not None and len(list(tx.iter_docs())) == 3  # 2 users, 1 file
    assert client.get("/api/web/files", headers=headers).status_code == 200  # reads are fine


def test_same_site_writes_with_the_cookie_pass(client: TestClient, store: Store) -> None:
    assert sign_in(client).status_code == 200
    assert client.put("/api/lock/", json=FILE, headers=SAME).status_code == 200
    assert lock_of(store) == "alice"
    referer = {"Referer": f"{SITE}/web"}  # no Origin (older browsers): the Referer's origin
    assert client.put("/api/unlock/", json=FILE, headers=referer).status_code == 200
    assert lock_of(store) is None


def test_bearer_clients_are_unaffected(client: TestClient, store: Store) -> None:
    assert sign_in(client).status_code == 200  # a cookie in the jar changes nothing
    headers = {**bearer(client), "Origin": "http://evil.example", "Content-Type": "text/plain"}
    reply = client.put("/api/lock/", content=f'"{FILE}"', headers=headers)
    assert reply.status_code == 200, reply.text
    assert lock_of(store) == "alice"
    client.cookies.clear()
    reply = client.put("/api/unlock/", json=FILE, headers=bearer(client))  # no Origin at all
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_cookie_writes_must_declare_json(
    client: TestClient, store: Store, content_type: str
) -> None:
    assert sign_in(client).status_code == 200
    headers = {**SAME, "Content-Type": content_type}
    reply = client.put("/api/lock/", content=f'"{FILE}"', headers=headers)
    assert reply.status_code == 415, reply.text
    assert lock_of(store) is None
    json_utf8 = {**SAME, "Content-Type": "application/json; charset=utf-8"}
    assert client.put("/api/lock/", content=f'"{FILE}"', headers=json_utf8).status_code == 200


def test_cross_site_sign_in_is_refused(client: TestClient) -> None:
    credentials = {"username": "alice", "password": "alice"}
    for headers in ({"Origin": "http://evil.example"}, {}):
        reply = client.post("/web/signin", json=credentials, headers=headers)
        assert reply.status_code == 403 and "set-cookie" not in reply.headers
    form = {**SAME, "Content-Type": "application/x-www-form-urlencoded"}
    reply = client.post("/web/signin", content="username=alice&password=alice", headers=form)
    assert reply.status_code == 415 and "set-cookie" not in reply.headers


def test_security_headers_on_every_reply(client: TestClient) -> None:
    replies = [
        client.get("/"),
        client.get("/web/static/app.js"),
        client.get("/healthz"),
        client.get("/api/web/files"),  # 401
        client.get("/nowhere"),  # 404
        client.post("/web/signin", json={}, headers={"Origin": "http://evil.example"}),  # 403
    ]
    assert [r.status_code for r in replies] == [200, 200, 200, 401, 404, 403]
    for reply in replies:
        assert reply.headers["x-frame-options"] == "DENY"
        assert reply.headers["x-content-type-options"] == "nosniff"
        policy = reply.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy


def test_the_page_has_no_inline_script_or_style(client: TestClient) -> None:
    assert sign_in(client).status_code == 200
    signed_in = client.get("/").text
    client.cookies.clear()
    for html in (signed_in, client.get("/").text):
        assert "<script>" not in html and "<style" not in html
        assert " style=" not in html and " onclick=" not in html and "javascript:" not in html


def test_a_malformed_authorization_header_leaves_the_cookie_guarded(
    client: TestClient, store: Store
) -> None:
    """`token_of` falls back to the cookie when the header holds no token: still guarded."""
    assert sign_in(client).status_code == 200
    headers = {"Authorization": "Bearer", "Origin": "http://evil.example"}
    assert client.put("/api/lock/", json=FILE, headers=headers).status_code == 403
    assert lock_of(store) is None


def test_the_interactive_docs_get_their_own_policy(client: TestClient) -> None:
    policy = client.get("/docs").headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in policy and "frame-ancestors 'none'" in policy
    page_policy = client.get("/").headers["content-security-policy"]
    assert "cdn.jsdelivr.net" not in page_policy
