"""The search grammar and search_mongo, run by the store (SQLite and PostgreSQL), as data."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from reconciler.store.search import parse_term
from tests.api.conftest import Api

DOCS: list[dict[str, Any]] = [
    {
        "_id": "/shots/a.exr",
        "origin": "paris",
        "sync_priority": 10,
        "k": 3,
        "deleted": True,
        "time": 1000,
        "meta": {"shot": "s01"},
        "name": "Alpha",
    },
    {
        "_id": "/shots/b.exr",
        "origin": "lyon",
        "sync_priority": 2,
        "k": "3",
        "deleted": "true",
        "time": 2000,
        "name": "beta 20",
    },
    {"_id": "/shots/c.exr", "origin": "paris", "k": "abc", "time": 3000.5, "name": "gamma\nline"},
    {"_id": "/assets/d.ma", "origin": 5, "sync_priority": -1, "k": 20, "time": "late"},
    {"_id": "c1", "#parent": "/shots/a.exr", "comment": "50% done"},
    {"_id": "@eve", "username": "eve", "class": "user", "password": "$argon2id$fake"},
    {"_id": "plain", "password": "user data, not a user"},
]


@pytest.fixture
def data(api: Api) -> Api:
    with api.store.write() as tx:
        tx.insert_many(DOCS)
    return api


TERMS = [
    ("k:3", ("k", ":", "3")),
    ("a<=5", ("a", "<=", "5")),
    ("a>=5", ("a", ">=", "5")),
    ("type:a:b", ("type", ":", "a")),
    ("#parent:/x/y", ("#parent", ":", "/x/y")),
    ("rabbit", None),
    (":x", None),
]


@pytest.mark.parametrize(("token", "term"), TERMS)
def test_parse_term(token: str, term: Any) -> None:
    assert parse_term(token) == term


TEXT = [
    ("origin:paris", ["/shots/a.exr", "/shots/c.exr"]),
    ("origin:paris  name:Alpha", ["/shots/a.exr"]),
    ("origin:paris origin:lyon", []),  # a repeated key is AND (architecture.md#tracker-api)
    ("k:3", ["/shots/a.exr", "/shots/b.exr"]),  # number 3 and string "3"
    ("deleted:true", ["/shots/a.exr", "/shots/b.exr"]),  # boolean and string
    ("origin:5", ["/assets/d.ma"]),
    ("sync_priority>5", ["/shots/a.exr"]),  # numeric, not lexicographic
    ("sync_priority<=2", ["/assets/d.ma", "/shots/b.exr"]),
    ("sync_priority<0", ["/assets/d.ma"]),
    ("k>4", ["/assets/d.ma"]),  # only numbers compare with numbers
    ("k>abb", ["/shots/c.exr"]),  # strings compare with strings
    ("time>=2000", ["/shots/b.exr", "/shots/c.exr"]),
    ("time<3000.6 time>3000", ["/shots/c.exr"]),
    ("time:late", ["/assets/d.ma"]),
    ("name:/^al/i", ["/shots/a.exr"]),
    ("name:/^line/m", ["/shots/c.exr"]),
    ("name:/ta 2/", []),  # no quoting: the space splits the token
    ("_id:/^\\/shots\\//", ["/shots/a.exr", "/shots/b.exr", "/shots/c.exr"]),
    ("_id:/shots/b.exr", ["/shots/b.exr"]),  # 'b.exr' is not a regex flag: a plain path
    ("#parent:/shots/a.exr", ["c1"]),
    ("meta.shot:s01", ["/shots/a.exr"]),
    ("comment:50%", []),
    ("rabbit origin:lyon", ["/shots/b.exr"]),  # tokens without operator are ignored
]


def test_search_grammar(data: Api) -> None:
    """Every case of TEXT on one store (the data is read-only)."""
    wrong = []
    for query, expected in TEXT:
        reply = data.call("GET", "/api/search/" + quote(query.replace("%", "%25"), safe=""))
        got = reply.json() if reply.status_code == 200 else reply.text
        if not isinstance(got, list) or sorted(got) != sorted(expected):
            wrong.append(f"{query!r}: {reply.status_code} {got} != {expected}")
    assert not wrong, "\n".join(wrong)


def test_search_all_and_paging(data: Api) -> None:
    everything = data.call("GET", "/api/search/*").json()
    assert sorted(everything) == sorted([d["_id"] for d in DOCS] + ["@admin"])
    page = data.call("GET", "/api/search/origin:paris?limit=1&skip=1").json()
    assert page == ["/shots/c.exr"]


def test_search_double_decoding_keeps_a_literal_percent(data: Api) -> None:
    reply = data.call("GET", "/api/search/comment:" + quote(quote("50%", safe=""), safe=""))
    assert reply.status_code == 200 and reply.json() == []
    reply = data.call("GET", "/api/search/comment:/50%25/")
    assert reply.json() == ["c1"]


def test_search_bad_queries_are_400(data: Api) -> None:
    for query in ["", "%20", "name:/(unclosed/", 'bad"key:1']:
        reply = data.call("GET", "/api/search/" + query)
        assert reply.status_code == 400, (query, reply.text)
        assert reply.text.startswith("Search error: Bad request")


def test_search_one(data: Api) -> None:
    reply = data.call("GET", "/api/search_one/origin:lyon")
    assert reply.status_code == 200 and reply.json()["_id"] == "/shots/b.exr"
    reply = data.call("GET", "/api/search_one/origin:nowhere")
    assert reply.status_code == 200 and reply.json() is None
    user = data.call("GET", "/api/search_one/username:eve").json()
    assert user["_id"] == "@eve" and "password" not in user


MONGO = [
    ({"origin": "paris"}, ["/shots/a.exr", "/shots/c.exr"]),
    ({"k": 3}, ["/shots/a.exr"]),  # typed, as MongoDB
    ({"k": "3"}, ["/shots/b.exr"]),
    ({"k": {"$eq": 20}}, ["/assets/d.ma"]),
    ({"k": {"$ne": 3}, "_id": "REGEX_^/"}, ["/shots/b.exr", "/shots/c.exr", "/assets/d.ma"]),
    ({"sync_priority": {"$gt": 2}}, ["/shots/a.exr"]),
    ({"sync_priority": {"$gte": 2}}, ["/shots/a.exr", "/shots/b.exr"]),
    ({"sync_priority": {"$lt": 2}}, ["/assets/d.ma"]),
    ({"sync_priority": {"$lte": 2, "$gt": -1}}, ["/shots/b.exr"]),
    ({"name": {"$gt": "a"}}, ["/shots/b.exr", "/shots/c.exr"]),
    ({"k": {"$in": [3, "abc"]}}, ["/shots/a.exr", "/shots/c.exr"]),
    ({"k": {"$in": []}}, []),
    ({"k": {"$nin": [3, "3", "abc", 20]}}, ["c1", "@eve", "@admin", "plain"]),
    ({"sync_priority": {"$exists": True}}, ["/shots/a.exr", "/shots/b.exr", "/assets/d.ma"]),
    ({"deleted": {"$ne": True}, "_id": {"$regex": "^/shots"}}, ["/shots/b.exr", "/shots/c.exr"]),
    ({"name": {"$regex": "^AL", "$options": "i"}}, ["/shots/a.exr"]),
    ({"name": "RX_^AL_RXi"}, ["/shots/a.exr"]),
    ({"_id": "REGEX_^/assets/"}, ["/assets/d.ma"]),
    ({"$or": [{"origin": "lyon"}, {"k": 20}]}, ["/shots/b.exr", "/assets/d.ma"]),
    (
        {"$and": [{"origin": "paris"}, {"k": {"$exists": True}}, {"time": {"$gt": 1000}}]},
        ["/shots/c.exr"],
    ),
    ({"origin": {"$not": {"$eq": "paris"}}, "_id": "REGEX_^/"}, ["/shots/b.exr", "/assets/d.ma"]),
    ({"name": {"$not": "REGEX_^A"}, "origin": "paris"}, ["/shots/c.exr"]),
    ({"$not": {"origin": "paris"}, "k": {"$exists": True}}, ["/shots/b.exr", "/assets/d.ma"]),
    ({"meta.shot": "s01"}, ["/shots/a.exr"]),
    ({"k": None, "_id": "REGEX_^/"}, []),  # null = missing or null: every file has k
    ({"#parent": "/shots/a.exr"}, ["c1"]),
]


def test_search_mongo_operators(data: Api) -> None:
    """Every case of MONGO on one store: the ids and the count."""
    wrong = []
    for query, expected in MONGO:
        reply = data.call("POST", "/api/search_mongo/", {"query": query})
        body = reply.json() if reply.status_code == 200 else {"error": reply.text}
        if sorted(body.get("ids", [])) != sorted(expected) or body.get("count") != len(expected):
            wrong.append(f"{query}: {reply.status_code} {body} != {expected}")
    assert not wrong, "\n".join(wrong)


def test_search_mongo_sort_limit_skip_and_queryobj(data: Api) -> None:
    body = {"query": {"_id": "REGEX_^/shots"}, "sort": {"time": -1}, "limit": 2, "skip": 0}
    reply = data.call("POST", "/api/search_mongo/", body).json()
    assert reply == {"count": 3, "ids": ["/shots/c.exr", "/shots/b.exr"]}
    body = {"queryobj": '{"origin": "paris"}', "sort": {"time": 1}, "skip": 1}
    assert data.call("POST", "/api/search_mongo/", body).json() == {
        "count": 2,
        "ids": ["/shots/c.exr"],
    }
    everything = data.call("POST", "/api/search_mongo/", None).json()
    assert everything["count"] == len(DOCS) + 1


BAD_MONGO: list[Any] = [
    {"query": {"$where": "1"}},
    {"query": {"k": {"$elemMatch": {}}}},
    {"query": {"$or": []}},
    {"query": {"$and": {"a": 1}}},
    {"query": {"k": {"$in": 3}}},
    {"query": {"k": {"$gt": [1]}}},
    {"query": {"k": {"a": 1}}},
    {"query": {"k": {"$regex": "("}}},
    {"query": {"k": {"$regex": 3}}},
    {"query": []},
    {"queryobj": "{not json"},
    {"queryobj": 5},
    {"query": {}, "sort": {"time": 2}},
    {"query": {}, "sort": ["time"]},
    {"query": {}, "limit": -1},
    {"query": {}, "skip": "3"},
    [1, 2],
]


def test_search_mongo_bad_queries_are_400(data: Api) -> None:
    for body in BAD_MONGO:
        reply = data.call("POST", "/api/search_mongo/", body)
        assert reply.status_code == 400, (body, reply.text)
        assert "Search_mongo error" in reply.text
