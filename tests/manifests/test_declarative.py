"""The pure planner: cases of (manifests, live objects, owned ids, prune) -> actions.

No store here: `plan()` takes values and returns values.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.kinds import KINDS, Kind
from reconciler.services.declarative import Action, effective_spec, plan, render
from reconciler.services.manifests import ManifestError, RawDocument, parse_documents
from tests.manifests.helpers import CHEAP

API = "syncplanet.io/v1"


def m(kind: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": spec}


def vol_doc(name: str, **keys: Any) -> dict[str, Any]:
    return {"_id": f"volume/{name}", "name": name, "url": f"/srv/{name}/", **keys}


def run(
    desired: list[dict[str, Any]],
    live: list[dict[str, Any]],
    owned: set[str] | None = None,
    prune: bool = False,
    env: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    manifests = parse_documents(
        [RawDocument("t.yaml", f"document {i}", d) for i, d in enumerate(desired)],
        env=env or {},
        variables={},
    )
    result = plan(
        manifests,
        {str(d["_id"]): d for d in live},
        owned or set(),
        prune=prune,
        now=50,
        author="me",
        passwords=CHEAP,
    )
    return [(c.ref, c.action.value) for c in result.changes]


CASES = [
    ("new volume", [m("Volume", "paris", url="/srv/paris/")], [], set(), False,
     [("volume/paris", "created")]),
    ("same values, defaults explicit or not", [m("Volume", "paris", url="/srv/paris/",
                                                 enabled=True)],
     [vol_doc("paris")], set(), False, [("volume/paris", "unchanged")]),
    ("status keys do not count", [m("Volume", "paris", url="/srv/paris/")],
     [vol_doc("paris", agentStatus="off", last_scan=3, time=1, author="x")], set(), False,
     [("volume/paris", "unchanged")]),
    ("a changed key", [m("Volume", "paris", url="/srv/paris/", enabled=False)],
     [vol_doc("paris")], set(), False, [("volume/paris", "configured")]),
    ("a live value of the wrong type is corrected", [m("Volume", "paris", url="/srv/paris/")],
     [vol_doc("paris", enabled="yes")], set(), False, [("volume/paris", "configured")]),
    ("an api object without `name` is unchanged", [m("Volume", "paris", url="/srv/paris/")],
     [{"_id": "volume/paris", "url": "/srv/paris/"}], set(), False,
     [("volume/paris", "unchanged")]),
    ("owned and absent, no prune", [], [vol_doc("paris")], {"volume/paris"}, False, []),
    ("owned and absent, prune", [], [vol_doc("paris")], {"volume/paris"}, True,
     [("volume/paris", "pruned")]),
    ("not owned, prune", [], [vol_doc("paris")], set(), True, []),
    ("owned but already gone", [], [], {"volume/paris"}, True, []),
    ("global parameters", [m("GlobalParameters", "rsyncGlobalParameters", syncEverywhere=False)],
     [{"_id": "rsyncGlobalParameters", "syncEverywhere": True}], set(), False,
     [("globalparameters/rsyncGlobalParameters", "configured")]),
    ("prune order: declared first, then pruned ids sorted",
     [m("Volume", "rome", url="/srv/rome/")],
     [vol_doc("zurich"), vol_doc("athens"), {"_id": "synctarget/t", "name": "t", "paths": ["/a"]}],
     {"volume/zurich", "volume/athens", "synctarget/t"}, True,
     [("volume/rome", "created"), ("synctarget/t", "pruned"), ("volume/athens", "pruned"),
      ("volume/zurich", "pruned")]),
    ("a pruned hub makes room for a new one", [m("Hub", "hub2", url="/srv/h2/")],
     [{"_id": "hub/hub1", "name": "hub1", "url": "/srv/h1/"}], {"hub/hub1"}, True,
     [("hub/hub2", "created"), ("hub/hub1", "pruned")]),
    ("a SyncTarget may name a stored volume",
     [m("SyncTarget", "t", paths=["/a/**"], sites=["paris"])], [vol_doc("paris")], set(), False,
     [("synctarget/t", "created")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("desired", "live", "owned", "prune", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_plan(
    desired: list[dict[str, Any]],
    live: list[dict[str, Any]],
    owned: set[str],
    prune: bool,
    expected: list[tuple[str, str]],
) -> None:
    assert run(desired, live, owned, prune) == expected


REFUSED = [
    ("second hub", [m("Hub", "hub2", url="/srv/h2/")],
     [{"_id": "hub/hub1", "name": "hub1", "url": "/srv/h1/"}], set(),
     'Hub "hub2" is invalid: metadata.name: Forbidden: only one Hub is allowed; hub "hub1"'),
    ("a SyncTarget naming a pruned volume", [m("SyncTarget", "t", paths=["/a"], sites=["paris"])],
     [vol_doc("paris")], {"volume/paris"},
     'SyncTarget "t" is invalid: spec.sites[0]: Not found: "paris"'),
    ("a new user without password", [m("User", "bob", **{"class": "user"})], [], set(),
     'User "bob" is invalid: spec: Required value: a new User needs passwordHash'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("desired", "live", "owned", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_plan_refuses(
    desired: list[dict[str, Any]], live: list[dict[str, Any]], owned: set[str], message: str
) -> None:
    with pytest.raises(ManifestError) as caught:
        run(desired, live, owned, prune=True)
    assert message in str(caught.value)


def test_created_documents_carry_identity_defaults_time_and_author() -> None:
    manifests = parse_documents(
        [RawDocument("t", "d", m("User", "ann", passwordFromEnv="P"))],
        env={"P": "pw"},
        variables={},
    )
    [change] = plan(manifests, {}, set(), prune=False, now=7, author="me", passwords=CHEAP).changes
    assert change.action is Action.CREATED and change.after is not None
    after = change.after
    assert {k: after[k] for k in ("_id", "name", "username", "class", "email", "time",
                                  "author")} == {
        "_id": "@ann", "name": "ann", "username": "ann", "class": "user", "email": "",
        "time": 7, "author": "me",
    }  # fmt: skip
    assert CHEAP.verify(after["password"], "pw") and "passwordFromEnv" not in after


def test_render_puts_unknown_keys_under_status_and_hides_passwords() -> None:
    shown = render(
        {
            "_id": "@ann",
            "name": "ann",
            "username": "ann",
            "password": "x" * 32,
            "class": "admin",
            "lastlogin": 5,
        }
    )
    assert shown == {
        "apiVersion": API, "kind": "User", "metadata": {"name": "ann"},
        "spec": {"class": "admin", "email": "", "fullname": ""}, "status": {"lastlogin": 5},
    }  # fmt: skip
    assert effective_spec(KINDS[Kind.SYNCTARGET], {"paths": ["/a"]})["excludeSites"] == []
