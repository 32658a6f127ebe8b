"""`api.client.Client` against a real uvicorn server (TCP on 127.0.0.1), on both stores."""

from __future__ import annotations

import pytest

from api.client import ApiError, Client
from tests.api.conftest import ADMIN_PASSWORD


def test_client_surface(server_url: str) -> None:
    with Client(server_url) as admin:
        signed = admin.signIn("admin", ADMIN_PASSWORD, expiresIn="1h")
        assert signed["_id"] == "@admin" and admin.token
        assert admin.verify()["username"] == "admin"
        assert admin.create({"_id": "@rita", "class": "editor", "password": "rita-pw"}) == "@rita"
        assert admin.create([{"_id": "/a", "k": 1}, {"_id": "/b", "k": 2}]) == ["/a", "/b"]

    project = Client(server_url)
    project.signIn("rita", "rita-pw")
    assert project.read("/a")["k"] == 1
    assert [d and d["_id"] for d in project.read(["/a", "/zz"])] == ["/a", None]  # 207
    assert project.update({"_id": "/a", "k": 5})["k"] == 5
    assert project.upsert({"_id": "/c", "k": 7}) == "/c"
    assert project.search("k>1") == ["/a", "/b", "/c"]
    assert project.search("k>1", limit=1, skip=1) == ["/b"]
    assert project.search("comment:50%") == []
    assert project.search_one("k:7")["_id"] == "/c"
    assert project.search_mongo({"k": {"$gte": 5}}, sort={"k": -1}, limit=1) == {
        "count": 2,
        "ids": ["/c"],
    }
    published = project.publish({"_id": "/shots/s.exr", "origin": "paris", "comment": "v1"})
    assert published[0] == "/shots/s.exr"
    assert project.comment({"#parent": "/shots/s.exr", "comment": "looks good"})
    assert project.lock("/shots/s.exr") is True
    assert project.lock("/shots/s.exr") is True
    assert project.unlock("/shots/s.exr") is True
    assert project.unlock("/shots/s.exr") is False  # 409: not locked
    assert project.version("/shots/s.exr", {"file": "/shots/s.exr"})["version"] >= 2
    assert project.graph("/a") == [project.read("/a")]
    assert project.delete(["/a", "/zz"]) == ["/a", None]
    token = project.createToken("2h")
    assert Client(server_url, token=token).verify()["username"] == "rita"
    with pytest.raises(ApiError) as info:
        project.createToken("0")  # a token that never expires: admins only
    assert info.value.status == 403
    assert project.request("GET", "/healthz")["status"] == "ok"

    with pytest.raises(ApiError) as info:
        project.read("/zz")
    assert info.value.status == 404 and "Not found" in info.value.message
    with pytest.raises(ApiError) as info:
        project.create({"_id": "@nope"})
    assert info.value.status == 403
    with pytest.raises(ApiError) as info:
        Client(server_url).read("/b")
    assert info.value.status == 401


def test_client_lock_conflict_and_password_change(server_url: str) -> None:
    admin = Client(server_url)
    admin.signIn("admin", ADMIN_PASSWORD)
    admin.create([{"_id": "@sam", "class": "user", "password": "sam-pw"}, {"_id": "/f"}])
    sam = Client(server_url)
    sam.signIn("sam", "sam-pw")
    assert sam.lock("/f") is True
    assert admin.lock("/f") is False
    assert admin.unlock("/f") is True  # admins clear a stale lock
    old = sam.token
    sam.changePassword("sam-pw", "sam-new")
    with pytest.raises(ApiError) as info:
        Client(server_url, token=old).verify()
    assert info.value.status == 401
    assert sam.verify()["username"] == "sam"


def test_client_unreachable_server() -> None:
    with pytest.raises(ApiError) as info:
        Client("http://127.0.0.1:9", timeout=2).verify()
    assert info.value.status == 0 and "cannot reach" in info.value.message
