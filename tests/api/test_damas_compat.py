"""damas-core 2.6 behaviours checked against its own server tests: mixed upserts, form-encoded
createToken, ULID ids on create, and graph walks through the edge index."""

from __future__ import annotations

import re
from typing import Any

import jwt

from tests.api.conftest import Api

ULID = "[0-9A-HJKMNP-TV-Z]{26}"


def test_mixed_upsert_answers_created_objects_first_then_updated(api: Api) -> None:
    assert api.call("POST", "/api/create/", {"_id": "/a", "x": 1}).status_code == 201
    reply = api.call("POST", "/api/upsert/", [{"_id": "/a", "k": 1}, {"_id": "/n", "k": 2}])
    assert reply.status_code == 200
    created, updated = reply.json()
    assert created["_id"] == "/n" and created["k"] == 2
    assert created["author"] == "admin" and isinstance(created["time"], int)
    assert updated["_id"] == "/a" and updated["k"] == 1 and updated["x"] == 1


def test_upsert_of_new_nodes_only_answers_ids(api: Api) -> None:
    reply = api.call("POST", "/api/upsert/", [{"_id": "/p", "k": 1}, {"_id": "/q", "k": 2}])
    assert (reply.status_code, reply.json()) == (200, ["/p", "/q"])


def test_create_token_takes_a_form(api: Api) -> None:
    reply = api.http.post(
        "/api/createToken", data={"expiresIn": "2h"}, headers=api.headers("admin")
    )
    assert reply.status_code == 200, reply.text
    claims: dict[str, Any] = jwt.decode(reply.json(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 7200
    as_json = api.http.post("/api/createToken", json={"expiresIn": "1h"}, headers=api.headers())
    claims = jwt.decode(as_json.json(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600


def test_create_replaces_the_first_ulid_mark(api: Api) -> None:
    first = api.call("POST", "/api/create/", {"_id": "/shots/{#}.exr"})
    second = api.call("POST", "/api/create/", [{"_id": "take-{#}-{#}"}])
    assert first.status_code == second.status_code == 201
    assert re.fullmatch(f"/shots/{ULID}\\.exr", first.json())
    (made,) = second.json()
    assert re.fullmatch(f"take-{ULID}-{{#}}", made)
    assert api.call("POST", "/api/read/", first.json()).json()["_id"] == first.json()


def test_upsert_keeps_the_ulid_mark(api: Api) -> None:
    reply = api.call("POST", "/api/upsert/", {"_id": "plain-{#}", "k": 1})
    assert (reply.status_code, reply.json()) == (200, "plain-{#}")


def test_ulids_sort_by_time(api: Api) -> None:
    ids = [api.call("POST", "/api/create/", {"_id": "u-{#}"}).json() for _ in range(3)]
    assert len(set(ids)) == 3
    assert [i[2:12] for i in ids] == sorted(i[2:12] for i in ids)  # the 48-bit time part


GRAPH: list[dict[str, Any]] = [
    {"_id": "/a"},
    {"_id": "/b"},
    {"_id": "/c"},
    {"_id": "e1", "src_id": "/b", "tgt_id": "/a"},
    {"_id": "e2", "src_id": "/c", "tgt_id": "/b"},
    {"_id": "not-an-edge", "tgt_id": "/a"},  # no src_id
    {"_id": "5"},
    {"_id": "numeric", "src_id": "/c", "tgt_id": 5},  # Mongo: 5 is not "5"
]


def test_graph_walks_edges_through_the_index(api: Api) -> None:
    with api.store.write() as tx:
        tx.insert_many(GRAPH)

    def ids(path: str) -> list[str]:
        reply = api.call("GET", path)
        assert reply.status_code == 200, reply.text
        return [d["_id"] for d in reply.json()]

    assert ids("/api/graph/0//a") == ["/a", "/b", "/c", "e1", "e2"]
    assert ids("/api/graph/1//a") == ["/a", "/b", "e1"]
    assert ids("/api/graph/0/5") == ["5"]


def test_the_edge_query_uses_the_index(api: Api) -> None:
    from reconciler.store.graph import _EDGE_TARGET

    target = _EDGE_TARGET[api.store.dialect]
    sql = f"SELECT doc FROM nodes WHERE {target} IS NOT NULL AND {target} IN ('/a', '/b')"
    with api.store.engine.begin() as conn:
        if api.store.dialect == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + sql))
    assert "ix_nodes_edge_target" in plan, plan
