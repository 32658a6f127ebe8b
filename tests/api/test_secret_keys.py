"""Secret keys cannot be searched, compared or sorted on, by any class (issue 11): a
user-class account recovered an argon2id hash by binary search over `sort: {password: 1}`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from reconciler.core.secret_keys import SECRET_QUERY_KEYS, is_secret_key
from tests.api.conftest import Api

CLASSES = ("guest", "user", "editor", "admin")
SECRETS = ("password", "rsync_env", "identityFile", "notifiedEmails", "smtpPassword")


@pytest.fixture
def users(api: Api) -> Api:
    for cls in CLASSES[:-1]:
        api.headers(cls, cls)
    api.call("POST", "/api/create/", {"_id": "/f", "password": "file data", "k": 1})
    return api


def _as(api: Api, cls: str) -> dict[str, str]:
    return api.headers("admin" if cls == "admin" else cls, cls)


def test_the_binary_search_by_sort_is_refused_for_every_class(users: Api) -> None:
    attack = {"query": {"_id": "REGEX_^@"}, "sort": {"password": 1}}
    for cls in CLASSES:
        reply = users.http.post("/api/search_mongo/", json=attack, headers=_as(users, cls))
        assert reply.status_code == 400, (cls, reply.text)
        assert "'password'" in reply.text and "secret" in reply.text


def _mongo_bodies(key: str) -> list[dict[str, Any]]:
    return [
        {"query": {key: "x"}},
        {"query": {key: {"$gt": "$argon2id$v=19$m"}}},
        {"query": {key: {"$lte": "m"}}},
        {"query": {key: {"$regex": "^\\$argon"}}},
        {"query": {key: "REGEX_^a"}},
        {"query": {key: {"$exists": True}}},
        {"query": {key: {"$in": ["a", "b"]}}},
        {"query": {"$or": [{"k": 1}, {f"{key}.sub": "x"}]}},
        {"query": {"$not": {key: {"$ne": None}}}},
        {"query": {}, "sort": {key: -1}},
        {"query": {}, "sort": {f"{key}.RSYNC_PASSWORD": 1}},
        {"queryobj": f'{{"{key}": {{"$gte": "a"}}}}'},
    ]


def test_search_mongo_on_a_secret_key_is_400_naming_it(users: Api) -> None:
    for key in SECRETS:
        for body in _mongo_bodies(key):
            for cls in ("guest", "admin"):
                reply = users.http.post("/api/search_mongo/", json=body, headers=_as(users, cls))
                assert reply.status_code == 400, (key, body, cls, reply.text)
                assert repr(key) in reply.text or key in reply.text


def test_text_search_and_search_one_on_a_secret_key_are_400(users: Api) -> None:
    for key in SECRETS:
        for term in (
            f"{key}:x",
            f"{key}>m",
            f"{key}<=$argon",
            f"{key}:/^\\$argon/",
            "k:1 " + key + ":1",
        ):
            for route in ("/api/search/", "/api/search_one/"):
                for cls in ("user", "admin"):
                    reply = users.http.get(route + quote(term, safe=""), headers=_as(users, cls))
                    assert reply.status_code == 400, (route, term, cls, reply.text)
                    assert key in reply.text
    reply = users.http.get(
        "/api/web/files", params={"q": "password:/^a/"}, headers=_as(users, "user")
    )
    assert reply.status_code == 400 and "password" in reply.text


def test_ordinary_keys_still_search_and_sort(users: Api) -> None:
    reply = users.http.post(
        "/api/search_mongo/",
        json={"query": {"k": 1}, "sort": {"time": -1, "username": 1}},
        headers=_as(users, "guest"),
    )
    assert reply.status_code == 200 and reply.json()["ids"] == ["/f"]


def test_one_set_names_the_secret_keys() -> None:
    assert {"password", "rsync_env", "identityFile", "notifiedEmails", "smtpPassword"} <= set(
        SECRET_QUERY_KEYS
    )
    assert is_secret_key("rsync_env.RSYNC_PASSWORD") and is_secret_key("meta.password")
    assert is_secret_key("dbPassword") and not is_secret_key("origin")


def test_keys_shown_redacted_cannot_be_searched_below_admin(users: Api) -> None:
    """`url` and `stderr_*` read as `ssh://***@host` below admin: a regex on them would
    recover the ssh user letter by letter, so only admins may query or sort on them."""
    users.call(
        "POST",
        "/api/create/",
        {"_id": "volume/nas", "name": "nas", "url": "ssh://sync@nas/p/", "stderr_scan": "x"},
    )
    probes = [
        ("url", {"query": {"url": "REGEX_^ssh://s"}}),
        ("stderr_scan", {"query": {"stderr_scan": {"$exists": True}}}),
        ("url", {"query": {}, "sort": {"url": 1}}),
    ]
    for key, body in probes:
        for cls in ("guest", "user", "editor"):
            reply = users.http.post("/api/search_mongo/", json=body, headers=_as(users, cls))
            assert reply.status_code == 400, (key, cls, reply.text)
            assert repr(key) in reply.text and "redacted" in reply.text
        admin = users.http.post("/api/search_mongo/", json=body, headers=_as(users, "admin"))
        assert admin.status_code == 200, admin.text
    text = users.http.get(
        f"/api/search/{quote('url:ssh://sync@nas/p/')}", headers=_as(users, "user")
    )
    assert text.status_code == 400, text.text
    found = users.http.post(
        "/api/search_mongo/",
        json={"query": {"url": "REGEX_^ssh://sync@"}},
        headers=_as(users, "admin"),
    )
    assert found.json()["ids"] == ["volume/nas"]
