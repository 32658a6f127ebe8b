"""Sign-in, tokens and users: argon2id, legacy hashes, revocation, expiry, no hash returned."""

from __future__ import annotations

import hashlib
import json
import time

import jwt
import jwt.utils
import pytest

from api.auth import lifetime_seconds
from api.settings import Settings
from api.users import ensure_admin
from tests.api.conftest import ADMIN_PASSWORD, FAST_HASHER, Api, MakeApi


def stored_user(api: Api, name: str) -> dict[str, object]:
    with api.store.read() as tx:
        doc = tx.get(f"@{name}")
    assert doc is not None
    return doc


def test_sign_in_reply_and_token(api: Api) -> None:
    reply = api.http.post("/api/signIn", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"_id", "user", "token"} and body["_id"] == "@admin"
    assert body["user"]["username"] == "admin" and "password" not in body["user"]
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["_id"] == "@admin" and claims["exp"] - claims["iat"] == 86400
    assert isinstance(stored_user(api, "admin")["lastlogin"], int)


def test_sign_in_accepts_a_form_and_the_email(api: Api) -> None:
    api.call(
        "POST",
        "/api/create/",
        {"_id": "@bob", "email": "bob@studio.example", "password": "pw-bob", "class": "user"},
    )
    form = api.http.post("/api/signIn/", data={"username": "bob", "password": "pw-bob"})
    assert form.status_code == 200
    by_mail = api.http.post(
        "/api/signIn", json={"username": "bob@studio.example", "password": "pw-bob"}
    )
    assert by_mail.status_code == 200 and by_mail.json()["_id"] == "@bob"


SIGN_IN_ERRORS: list[tuple[dict[str, object], int]] = [
    ({"username": "admin"}, 400),
    ({"password": "x"}, 400),
    ({"username": 3, "password": "x"}, 400),
    ({"username": "admin", "password": "wrong"}, 401),
    ({"username": "nobody", "password": "x"}, 401),
    ({"username": "admin", "password": ADMIN_PASSWORD, "expiresIn": "soon"}, 400),
]


def test_sign_in_errors(api: Api) -> None:
    for body, status in SIGN_IN_ERRORS:
        assert api.http.post("/api/signIn", json=body).status_code == status, body


def test_expires_in(api: Api) -> None:
    body = {"username": "admin", "password": ADMIN_PASSWORD, "expiresIn": "0"}
    token = api.http.post("/api/signIn", json=body).json()["token"]
    assert "exp" not in jwt.decode(token, options={"verify_signature": False})
    headers = {"Authorization": f"Bearer {token}"}
    assert api.http.get("/api/verify", headers=headers).status_code == 200
    short = api.http.post("/api/createToken", json={"expiresIn": "2h"}, headers=headers)
    claims = jwt.decode(short.json(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 7200


def test_expired_token_is_refused(api: Api) -> None:
    doc = stored_user(api, "admin")
    key = "test-secret" + str(doc["password"])
    old = jwt.encode(
        {"_id": "@admin", "username": "admin", "iat": 1, "exp": int(time.time()) - 5},
        key,
        algorithm="HS256",
    )
    assert (
        api.http.get("/api/verify", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    )
    fresh = jwt.encode({"_id": "@admin", "username": "admin", "iat": 1}, key, algorithm="HS256")
    assert (
        api.http.get("/api/verify", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    )
    unsigned = jwt.encode({"_id": "@admin", "iat": 1}, "", algorithm="none")
    assert (
        api.http.get("/api/verify", headers={"Authorization": f"Bearer {unsigned}"}).status_code
        == 401
    )
    head, _, sig = fresh.split(".")
    tampered = ".".join(
        [head, jwt.utils.base64url_encode(b'{"_id":"@admin","iat":2}').decode(), sig]
    )
    assert (
        api.http.get("/api/verify", headers={"Authorization": f"Bearer {tampered}"}).status_code
        == 401
    )
    forged = jwt.encode(
        {"_id": "@admin", "iat": 1}, "another-secret-of-a-decent-length-xx", algorithm="HS256"
    )
    assert (
        api.http.get("/api/verify", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )


@pytest.mark.parametrize(
    "value,seconds",
    [("1d", 86400), ("2h", 7200), ("90m", 5400), ("1000", 1.0), (60, 60), ("0", None), (0, None)],
)
def test_lifetime_values(value: object, seconds: float | None) -> None:
    assert lifetime_seconds(value) == seconds


def test_token_by_cookie_and_missing_token(api: Api) -> None:
    token = api.sign_in("admin", ADMIN_PASSWORD)
    api.http.cookies.set("token", token)
    assert api.http.get("/api/verify").status_code == 200
    api.http.cookies.clear()
    for path in ("/api/verify", "/api/read//x", "/api/search/x:1"):
        reply = api.http.get(path)
        assert reply.status_code == 401, path
        assert "Unauthorized" in reply.text
    assert api.http.get("/api/verify", headers={"Authorization": "Bearer junk"}).status_code == 401


def test_password_change_revokes_tokens(api: Api) -> None:
    headers = api.headers("carol", "user")
    assert api.http.get("/api/verify", headers=headers).status_code == 200
    wrong = api.http.post(
        "/api/changePassword/", json={"password": "nope", "newPassword": "n"}, headers=headers
    )
    assert wrong.status_code == 403
    reply = api.http.post(
        "/api/changePassword/",
        json={"password": "carol-pw", "newPassword": "carol-new"},
        headers=headers,
    )
    assert reply.status_code == 200 and "password" not in reply.json()["user"]
    assert api.http.get("/api/verify", headers=headers).status_code == 401
    assert api.http.get("/api/read//x", headers=headers).status_code == 401  # the lean path too
    new = {"Authorization": f"Bearer {reply.json()['token']}"}
    assert api.http.get("/api/verify", headers=new).status_code == 200
    assert api.sign_in("carol", "carol-new")
    assert (
        api.http.post("/api/signIn", json={"username": "carol", "password": "carol-pw"}).status_code
        == 401
    )


def test_admin_password_change_through_update_revokes(api: Api) -> None:
    headers = api.headers("dave", "user")
    api.call("PUT", "/api/update/", {"_id": "@dave", "password": "reset"})
    assert api.http.get("/api/verify", headers=headers).status_code == 401
    assert api.sign_in("dave", "reset")


def test_disabled_user(api: Api) -> None:
    headers = api.headers("erin", "user")
    api.call("PUT", "/api/update/", {"_id": "@erin", "disable": True})
    assert api.http.get("/api/verify", headers=headers).status_code == 401
    reply = api.http.post("/api/signIn", json={"username": "erin", "password": "erin-pw"})
    assert reply.status_code == 401 and "Unauthorized connection" in reply.text


@pytest.mark.parametrize("algo", ["md5", "sha1"])
def test_legacy_hashes_are_accepted_and_upgraded(api: Api, algo: str) -> None:
    legacy = hashlib.new(algo, b"old-pw").hexdigest()
    reply = api.call(
        "POST", "/api/create/", {"_id": "@legacy", "passwordHash": legacy, "class": "user"}
    )
    assert reply.status_code == 201
    assert stored_user(api, "legacy")["password"] == legacy
    assert (
        api.http.post("/api/signIn", json={"username": "legacy", "password": "bad"}).status_code
        == 401
    )
    assert api.sign_in("legacy", "old-pw")
    assert str(stored_user(api, "legacy")["password"]).startswith("$argon2id$")
    assert api.sign_in("legacy", "old-pw")


def test_passwords_are_stored_as_argon2id(api: Api) -> None:
    api.headers("frank", "user")
    assert str(stored_user(api, "frank")["password"]).startswith("$argon2id$")


def test_no_route_returns_a_password_hash(api: Api) -> None:
    api.headers("gina", "editor")
    hashes = [str(stored_user(api, n)["password"]) for n in ("admin", "gina")]
    replies = [
        api.call("GET", "/api/read/@gina"),
        api.call("GET", "/api/read/@gina,@admin"),
        api.call("POST", "/api/read/", ["@gina"]),
        api.call("GET", "/api/verify", user="gina"),
        api.call("GET", "/api/search_one/username:gina"),
        api.call("PUT", "/api/update/", {"_id": "@gina", "fullname": "Gina"}),
        api.call("POST", "/api/upsert/", {"_id": "@gina", "email": "g@x"}),
        api.call("POST", "/api/upsert/", {"_id": "@hal", "password": "x"}),
        api.call("GET", "/api/graph/0/@gina"),
        api.call("PUT", "/api/lock/", "@gina"),
        api.call("PUT", "/api/unlock/", "@gina"),
        api.http.post("/api/signIn", json={"username": "gina", "password": "gina-pw"}),
    ]
    make_obj = api.call("POST", "/api/create/", {"_id": "@ivy", "password": "x"})
    everything = api.call("GET", "/api/search/*").json()
    replies.append(api.call("POST", "/api/read/", everything))
    replies.append(api.call("GET", "/api/read/" + ",".join(everything)))
    for reply in [*replies, make_obj]:
        assert reply.status_code < 300, reply.text
        text = reply.text
        assert '"password"' not in text and not any(h in text for h in hashes), text
    assert json.loads(replies[0].text)["username"] == "gina"


def test_invalid_user_objects(api: Api) -> None:
    for doc in [
        {"_id": "@Bad Name", "password": "x"},
        {"_id": "@ok", "class": "boss"},
        {"_id": "@ok", "password": ""},
        {"_id": "@ok", "password": 5},
        {"_id": "@ok", "username": "other"},
        {"_id": "@ok", "passwordHash": "plaintext"},
    ]:
        assert api.call("POST", "/api/create/", doc).status_code == 400, doc


def test_first_start_creates_admin_once(
    make_api: MakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api = make_api()
    assert api.sign_in("admin", ADMIN_PASSWORD)
    settings = Settings(db_url=api.settings.db_url, secret="s", admin_password=None)
    from reconciler.core.passwords import Passwords

    assert ensure_admin(api.store, settings, Passwords(FAST_HASHER)) is None  # users exist
    with api.store.write() as tx:
        tx.delete("@admin")
    said: list[str] = []
    generated = ensure_admin(api.store, settings, Passwords(FAST_HASHER), said.append)
    assert generated and generated in said[0]
    assert api.sign_in("admin", generated)
