"""Request limits (issue 11, docs/security.md): stored document size, query size caps, the
statement time limit, and a many-valued `$in` on large documents; both stores."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from typer.testing import CliRunner

from api.settings import Settings
from reconciler.store.search import MAX_BRANCHES, MAX_DEPTH, MAX_IN_VALUES, MAX_TEXT_TERMS
from spctl import app as cli_app
from tests.api.conftest import ADMIN_PASSWORD, Api, MakeApi
from tests.support.servers import free_port, server_process
from tests.support.spctl import SPCTL

SMALL_DOC = 2000  # bytes: a small SPCTL_MAX_DOC keeps these tests light


def _stored(api: Api, node_id: str) -> dict[str, Any] | None:
    with api.store.read() as tx:
        return tx.get(node_id)


# ---- stored document size ----------------------------------------------------------------


def test_max_doc_defaults_to_one_mib_and_reads_spctl_max_doc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPCTL_SECRET", "s")
    assert Settings.from_env().max_doc == 1024 * 1024
    monkeypatch.setenv("SPCTL_MAX_DOC", "4096")
    assert Settings.from_env().max_doc == 4096
    assert Settings.from_env().query_timeout == 5.0


def test_documents_over_the_limit_are_413_on_every_write_route(make_api: MakeApi) -> None:
    api = make_api(max_doc=SMALL_DOC)
    blob = "x" * (SMALL_DOC + 10)
    api.call("POST", "/api/create/", {"_id": "/base", "k": 1, "file": "/base"})
    writes: list[tuple[str, str, Any]] = [
        ("POST", "/api/create/", {"_id": "/big", "blob": blob}),
        ("POST", "/api/create/", [{"_id": "/ok"}, {"_id": "/big", "blob": blob}]),
        ("PUT", "/api/update/", {"_id": "/base", "blob": blob}),
        ("POST", "/api/upsert/", {"_id": "/big", "blob": blob}),
        ("POST", "/api/upsert/", {"_id": "/base", "blob": blob}),
        ("POST", "/api/publish/", {"_id": "/big", "origin": "paris", "comment": blob}),
        ("POST", "/api/comment/", {"#parent": "/base", "comment": blob}),
        ("POST", "/api/version//base", {"file": "/base", "blob": blob}),
    ]
    for method, path, body in writes:
        reply = api.call(method, path, body)
        assert reply.status_code == 413, (path, reply.status_code, reply.text)
        assert f"limit of {SMALL_DOC} bytes" in reply.text and "SPCTL_MAX_DOC" in reply.text
    assert _stored(api, "/big") is None and _stored(api, "/ok") is None
    base = _stored(api, "/base")
    assert base is not None and "blob" not in base and "version" not in base
    with api.store.read() as tx:
        children = tx.conn.exec_driver_sql("SELECT count(*) FROM nodes").scalar()
    assert children == 2  # @admin and /base: no comment, no kept version


def test_an_update_is_413_when_the_merged_document_is_over_the_limit(make_api: MakeApi) -> None:
    api = make_api(max_doc=SMALL_DOC)
    half = "y" * (SMALL_DOC // 2 + 10)
    assert api.call("POST", "/api/create/", {"_id": "/m", "a": half}).status_code == 201
    reply = api.call("PUT", "/api/update/", {"_id": "/m", "b": half})
    assert reply.status_code == 413, reply.text
    assert "b" not in (_stored(api, "/m") or {})
    assert api.call("PUT", "/api/update/", {"_id": "/m", "b": "small"}).status_code == 200


def test_documents_under_the_body_limit_but_over_one_mib_are_refused(api: Api) -> None:
    big = {"_id": "/big", "blob": "z" * (1024 * 1024)}
    reply = api.call("POST", "/api/create/", big)
    assert reply.status_code == 413 and "1048576" in reply.text
    assert api.call("POST", "/api/create/", {"_id": "/fine", "blob": "z" * 1000}).status_code == 201


# ---- query size caps ---------------------------------------------------------------------


def _mongo(api: Api, body: Any, user: str = "guest") -> Any:
    return api.call("POST", "/api/search_mongo/", body, user=user, cls="guest")


def _nested_not(depth: int) -> dict[str, Any]:
    query: dict[str, Any] = {"k": 1}
    for _ in range(depth):
        query = {"$not": query}
    return query


def _nested_field_not(depth: int) -> Any:
    cond: Any = 1
    for _ in range(depth):
        cond = {"$not": cond}
    return {"k": cond}


OVER_THE_CAPS: list[tuple[dict[str, Any], str]] = [
    ({"query": {"k": {"$in": list(range(MAX_IN_VALUES + 1))}}}, str(MAX_IN_VALUES)),
    ({"query": {"k": {"$nin": [str(i) for i in range(1001)]}}}, str(MAX_IN_VALUES)),
    ({"query": {"$or": [{"k": i} for i in range(MAX_BRANCHES + 1)]}}, str(MAX_BRANCHES)),
    ({"query": {"$or": [{"k": i} for i in range(1001)]}}, str(MAX_BRANCHES)),
    ({"query": {"$and": [{"k": i} for i in range(MAX_BRANCHES + 1)]}}, str(MAX_BRANCHES)),
    ({"query": _nested_not(200)}, str(MAX_DEPTH)),
    ({"query": _nested_field_not(200)}, str(MAX_DEPTH)),
    ({"query": {f"k{i}": i for i in range(1001)}}, "1000"),
    ({"query": {"a": {"$in": list(range(500))}, "b": {"$in": list(range(500, 1000))}}}, "1000"),
    ({"query": {}, "sort": {f"k{i}": 1 for i in range(100)}}, "16"),
    ({"query": {}, "limit": 2**63}, "limit"),
    ({"query": {}, "skip": 2**63}, "skip"),
    ({"query": {}, "limit": 10**30}, "limit"),
]


def test_queries_over_the_caps_are_400_naming_the_cap(api: Api) -> None:
    api.call("POST", "/api/create/", {"_id": "/a", "k": 1})
    for body, cap in OVER_THE_CAPS:
        started = time.monotonic()
        reply = _mongo(api, body)
        assert reply.status_code == 400, (str(body)[:80], reply.status_code, reply.text)
        assert cap in reply.text, reply.text
        assert time.monotonic() - started < 5, str(body)[:80]


def test_queries_at_the_caps_still_work(api: Api) -> None:
    api.call("POST", "/api/create/", {"_id": "/a", "k": 7})
    at_caps: list[dict[str, Any]] = [
        {"query": {"k": {"$in": list(range(MAX_IN_VALUES))}}},
        {"query": {"$or": [{"k": i} for i in range(MAX_BRANCHES)]}},
        {"query": _nested_not(MAX_DEPTH)},
        {"query": {}, "limit": 2**63 - 1, "skip": 0},
    ]
    for body in at_caps:
        reply = _mongo(api, body)
        assert reply.status_code == 200, (str(body)[:80], reply.text)


def test_text_searches_over_the_term_cap_are_400_fast(api: Api) -> None:
    api.call("POST", "/api/create/", {"_id": "/a", "k": 1})
    huge = " ".join(f"k:{i}" for i in range(2000))
    for path in ("/api/search/", "/api/search_one/"):
        started = time.monotonic()
        reply = api.call("GET", path + quote(huge, safe=""), user="guest", cls="guest")
        assert reply.status_code == 400 and str(MAX_TEXT_TERMS) in reply.text, reply.text
        assert time.monotonic() - started < 5
    at_cap = " ".join(["k:1"] * MAX_TEXT_TERMS)
    reply = api.call("GET", "/api/search/" + quote(at_cap, safe=""))
    assert reply.status_code == 200 and reply.json() == ["/a"]


def test_out_of_range_limit_and_skip_in_the_url_are_400(api: Api) -> None:
    for query in (f"limit={2**63}", f"skip={2**63}", f"limit={10**40}"):
        reply = api.call("GET", f"/api/search/k:1?{query}")
        assert reply.status_code == 400, (query, reply.text)


# ---- one extraction per key: $in of 300 values on 1 MiB documents ------------------------


def _peak_rss_reset() -> int:
    """Reset this process's peak RSS (Linux `clear_refs` 5); the current RSS in kB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def test_a_300_value_in_on_one_mib_documents_answers(api: Api) -> None:
    """Each value once parsed the whole document: this query took 6 s and 400 MB on SQLite,
    12 s of database CPU on PostgreSQL; the key is now extracted once per type of value.
    The app runs in this process (TestClient): its peak memory is ours to measure."""
    filler = "f" * (1024 * 1024 - 200)
    with api.store.write() as tx:
        tx.insert_many(
            [{"_id": f"/big/{i}", "k": f"v{i}", "n": i, "blob": filler} for i in range(12)]
        )
    values: list[Any] = [f"v{i}" for i in range(0, 300, 3)] + list(range(1, 400, 2))[:200]
    assert len(values) == 300
    guest = api.headers("guest", "guest")
    base = _peak_rss_reset()
    for key, expected in (("k", [0, 3, 6, 9]), ("n", [1, 3, 5, 7, 9, 11])):
        started = time.monotonic()
        reply = api.http.post(
            "/api/search_mongo/", json={"query": {key: {"$in": values}}}, headers=guest
        )
        assert reply.status_code == 200, reply.text
        assert sorted(reply.json()["ids"]) == sorted(f"/big/{i}" for i in expected)
        assert time.monotonic() - started < 8  # a bound against a stall, not a benchmark
    terms = " ".join(f"k:v{i}" for i in range(MAX_TEXT_TERMS))
    reply = api.http.get("/api/search/" + quote(terms, safe=""), headers=guest)
    assert reply.status_code == 200 and reply.json() == []
    grown_mb = (_status_kb("VmHWM") - base) / 1024
    assert grown_mb < 150, f"peak memory grew by {grown_mb:.0f} MB"


# ---- statement time limit ----------------------------------------------------------------


def _seed_many(api: Api, count: int) -> None:
    docs = [{"_id": f"/many/{i:05d}", **{f"k{j}": i + j for j in range(20)}} for i in range(count)]
    with api.store.write() as tx:  # outside any request: no time limit here
        tx.insert_many(docs)


def test_a_query_over_the_time_limit_is_503_and_the_server_carries_on(
    make_api: MakeApi,
) -> None:
    api = make_api(query_timeout=0.2)
    _seed_many(api, 8000)
    guest = api.headers("guest", "guest")
    slow = {"query": {"$or": [{f"k{i % 20}": {"$gt": 10**9 + i}} for i in range(MAX_BRANCHES)]}}
    started = time.monotonic()
    reply = api.http.post("/api/search_mongo/", json=slow, headers=guest)
    elapsed = time.monotonic() - started
    assert reply.status_code == 503, (reply.status_code, reply.text[:200])
    assert reply.headers["Retry-After"] == "1"
    assert "longer than the limit of 0.2 s" in reply.text and "SPCTL_QUERY_TIMEOUT" in reply.text
    assert elapsed < 10
    # the server is fine: quick queries, writes and the health check all answer
    quick = api.http.post("/api/search_mongo/", json={"query": {"k0": 5}}, headers=guest)
    assert quick.status_code == 200 and quick.json()["ids"] == ["/many/00005"]
    assert api.call("POST", "/api/create/", {"_id": "/after"}).status_code == 201
    assert api.http.get("/healthz").status_code == 200


def test_the_reconciler_side_of_the_store_has_no_time_limit(make_api: MakeApi) -> None:
    """The limit lives in the request's context: the same query outside a request runs."""
    from reconciler.store import search

    api = make_api(query_timeout=0.2)
    _seed_many(api, 8000)
    slow = {"$or": [{f"k{i % 20}": {"$gt": 10**9 + i}} for i in range(MAX_BRANCHES)]}
    with api.store.read() as tx:
        cond = search.mongo_condition(slow, tx.dialect)
        assert search.count(tx, cond) == 0


# ---- spctl serve flags -------------------------------------------------------------------


def test_spctl_serve_takes_max_doc_and_query_timeout(tmp_path: Path) -> None:
    runner = CliRunner()
    for flag, value in (("--max-doc", "0"), ("--query-timeout", "-1")):
        result = runner.invoke(cli_app, ["serve", flag, value, "--db", str(tmp_path / "x.db")])
        assert result.exit_code != 0 and flag in result.stderr, result.stderr
    port = free_port()
    env = {**os.environ, "SPCTL_HOME": str(tmp_path / "home"), "SPCTL_SECRET": "x"}
    env["SPCTL_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    env.pop("SPCTL_DB", None)
    args = ["serve", "--port", str(port), "--max-doc", "3000", "--query-timeout", "2"]
    with server_process([*SPCTL, *args], port=port, logs=tmp_path, env=env) as server:
        login = {"username": "admin", "password": ADMIN_PASSWORD}
        token = httpx.post(server.url + "/api/signIn", json=login).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        big = {"_id": "/big", "blob": "b" * 4000}
        reply = httpx.post(server.url + "/api/create/", json=big, headers=headers)
        assert reply.status_code == 413 and "limit of 3000 bytes" in reply.text
