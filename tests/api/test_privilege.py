"""What each class may read and write past the class checks, on each store (issue 11):

- `version` adds a version; it never removes or rewrites the keys the tracker owns, and a
  user cannot set them (nor author/time): the reply lists the keys refused.
- Configuration secrets (`rsync_env`, `identityFile`, `knownHosts`, `notifiedEmails`, the
  SMTP account, the ssh user of URLs and messages) read as `***` below admin on every read
  path; admins and manifests see the real values.
- A token that never expires (`expiresIn` 0) is for admins only.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import ADMIN_PASSWORD, Api

FILE = "/shots/a.exr"
PUBLISH = {"_id": FILE, "origin": "paris", "comment": "first", "sync_priority": 5, "file": FILE}
TRACKER_STATE = {
    "synced_hub": 2000,
    "syncError_tokyo": 23,
    "syncLastAttempt_tokyo": 2100,
    "syncing_montreal": 2200,
}
HOSTILE_VERSION = {
    "file": FILE,
    "note": "v2",
    "origin": "tokyo",
    "sync_priority": 99,
    "synced_hub": None,
    "syncing_montreal": None,
    "syncError_tokyo": None,
    "syncLastAttempt_tokyo": 0,
    "deleted": True,
    "lock": None,
    "author": "mallory",
    "time": 1,
    "#parent": "/elsewhere",
}


def stored(api: Api, node_id: str) -> dict[str, Any]:
    with api.store.read() as tx:
        doc = tx.get(node_id)
    assert doc is not None
    return doc


def published(api: Api) -> dict[str, Any]:
    assert api.call("POST", "/api/publish/", PUBLISH, user="ann", cls="user").status_code == 201
    assert api.call("PUT", "/api/update/", {"_id": FILE, **TRACKER_STATE}).status_code == 200
    assert api.call("PUT", "/api/lock/", FILE, user="ann", cls="user").status_code == 200
    return stored(api, FILE)


def test_a_user_version_keeps_the_tracker_keys(api: Api) -> None:
    before = published(api)
    reply = api.call("POST", f"/api/version/{FILE}", HOSTILE_VERSION, user="vic", cls="user")
    assert reply.status_code == 201, reply.text
    head = stored(api, FILE)
    for key in ("origin", "sync_priority", "lock", *TRACKER_STATE):
        assert head[key] == before[key], key
    assert "deleted" not in head and "#parent" not in head
    assert head["author"] == "vic" and head["time"] > before["time"] and head["note"] == "v2"
    assert head["version"] == 3  # children: the history node of publish and the kept copy
    body = reply.json()
    assert body["refusedKeys"] == sorted(
        ["origin", "sync_priority", *TRACKER_STATE, "deleted", "lock", "author", "time", "#parent"]
    )
    assert {k: v for k, v in body.items() if k != "refusedKeys"} == head


def test_an_editor_version_may_set_tracker_keys_but_not_author(api: Api) -> None:
    before = published(api)
    body = {"file": FILE, "sync_priority": 9, "author": "mallory"}
    reply = api.call("POST", f"/api/version/{FILE}", body, user="ed", cls="editor")
    assert reply.status_code == 201, reply.text
    head = stored(api, FILE)
    assert head["sync_priority"] == 9 and head["author"] == "ed"
    assert head["synced_hub"] == before["synced_hub"] and head["lock"] == "ann"
    assert reply.json()["refusedKeys"] == ["author"]


def test_an_admin_version_sets_what_it_names(api: Api) -> None:
    published(api)
    body = {"file": FILE, "author": "ann", "origin": "tokyo"}
    reply = api.call("POST", f"/api/version/{FILE}", body)
    assert reply.status_code == 201 and "refusedKeys" not in reply.json()
    head = stored(api, FILE)
    assert head["author"] == "ann" and head["origin"] == "tokyo"


# ---- configuration secrets ----------------------------------------------------------------

SECRETS = (
    "hunter2",
    "sync@",
    "hubuser@",
    "ops@studio.example",
    "/keys/id_ed25519",
    "/keys/known_hosts",
    "smtp-bob",
    "SMTP_PASSWORD_VAR",
)
MANIFESTS = [
    {
        "apiVersion": "syncplanet.io/v1",
        "kind": "GlobalParameters",
        "metadata": {"name": "rsyncGlobalParameters"},
        "spec": {
            "smtpHost": "mail",
            "smtpUser": "smtp-bob",
            "smtpPasswordFromEnv": "SMTP_PASSWORD_VAR",
        },
    },
    {
        "apiVersion": "syncplanet.io/v1",
        "kind": "Hub",
        "metadata": {"name": "hub"},
        "spec": {
            "url": "ssh://hubuser@hub.example:22/srv/hub/",
            "identityFile": "/keys/id_ed25519",
            "knownHosts": "/keys/known_hosts",
        },
    },
    {
        "apiVersion": "syncplanet.io/v1",
        "kind": "Volume",
        "metadata": {"name": "paris"},
        "spec": {
            "url": "ssh://sync@paris.example:22/prod/",
            "rsync_env": "RSYNC_PASSWORD=hunter2",
            "notifiedEmails": "ops@studio.example",
        },
    },
]


@pytest.fixture
def configured(api: Api) -> Api:
    reply = api.call("POST", "/api/declarative/apply", {"manifests": MANIFESTS})
    assert reply.status_code == 200, reply.text
    message = {"_id": "volume/paris", "stderr_scan": "sync@paris.example: Permission denied"}
    assert api.call("PUT", "/api/update/", message).status_code == 200
    return api


def read_paths(api: Api, user: str, cls: str) -> dict[str, str]:
    """Every reply that carries configuration objects, as `user` of class `cls` sees it."""
    ids = ["rsyncGlobalParameters", "hub/hub", "volume/paris"]
    calls: dict[str, tuple[str, str, Any]] = {
        "read one": ("GET", "/api/read/volume/paris", None),
        "read many": ("GET", "/api/read/" + ",".join(ids), None),
        "read post": ("POST", "/api/read/", ids),
        "graph": ("GET", "/api/graph/0/" + ",".join(ids), None),
        "search_one": ("GET", "/api/search_one/_id:volume/paris", None),
        "web sites": ("GET", "/api/web/sites", None),
        "status": ("GET", "/api/status", None),
    }
    out = {}
    for name, (method, path, body) in calls.items():
        reply = api.call(method, path, body, user=user, cls=cls)
        assert reply.status_code == 200, (name, reply.text)
        out[name] = reply.text
    return out


@pytest.mark.parametrize("cls", ["guest", "user", "editor"])
def test_configuration_secrets_are_redacted_below_admin(configured: Api, cls: str) -> None:
    for name, text in read_paths(configured, f"reader_{cls}", cls).items():
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, (name, leaked, text)
    volume = configured.call("GET", "/api/read/volume/paris", user=f"reader_{cls}", cls=cls).json()
    assert volume["url"] == "ssh://***@paris.example:22/prod/"
    assert volume["rsync_env"] == "***" and volume["notifiedEmails"] == "***"
    assert volume["stderr_scan"] == "***@paris.example: Permission denied"
    glob = configured.call("GET", "/api/read/rsyncGlobalParameters", user=f"reader_{cls}", cls=cls)
    assert glob.json()["smtpUser"] == "***" and glob.json()["smtpHost"] == "mail"


def test_admins_see_the_secrets_and_manifests_round_trip(configured: Api) -> None:
    texts = read_paths(configured, "admin", "admin")
    for name in ("read one", "read many", "read post", "graph", "search_one"):
        assert "hunter2" in texts[name] and "sync@paris.example" in texts[name], name
    assert "ssh://hubuser@hub.example" in texts["web sites"]
    live = configured.call("GET", "/api/declarative/objects/volumes/paris").json()
    assert live["spec"]["rsync_env"] == "RSYNC_PASSWORD=hunter2"
    assert live["spec"]["url"] == "ssh://sync@paris.example:22/prod/"
    diff = configured.call("POST", "/api/declarative/diff", {"manifests": MANIFESTS}).json()
    assert all(r["action"] == "unchanged" for r in diff["results"]), diff


# ---- tokens that never expire ---------------------------------------------------------------


@pytest.mark.parametrize("cls", ["guest", "user", "editor"])
def test_a_never_expiring_token_is_for_admins_only(api: Api, cls: str) -> None:
    headers = api.headers(f"t_{cls}", cls)
    forever = {"username": f"t_{cls}", "password": f"t_{cls}-pw", "expiresIn": "0"}
    assert api.http.post("/api/signIn", json=forever).status_code == 403
    for value in ("0", 0):
        made = api.http.post("/api/createToken", json={"expiresIn": value}, headers=headers)
        assert made.status_code == 403, made.text
    made = api.http.post("/api/createToken", json={"expiresIn": "2h"}, headers=headers)
    assert made.status_code == 200


def test_an_admin_may_have_a_never_expiring_token(api: Api) -> None:
    forever = {"username": "admin", "password": ADMIN_PASSWORD, "expiresIn": "0"}
    assert api.http.post("/api/signIn", json=forever).status_code == 200
    made = api.http.post("/api/createToken", json={"expiresIn": 0}, headers=api.headers())
    assert made.status_code == 200
