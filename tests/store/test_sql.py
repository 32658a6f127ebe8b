"""The store's boundary: driver-level statements with SQLAlchemy's placeholders, on SQLite
and PostgreSQL, and `QueryError` naming the field of a query the caller got wrong."""

from __future__ import annotations

import pytest

from reconciler.store import Store, search, sql
from reconciler.store.query import QueryError

IDS = [f"/sql/{i:04d}.exr" for i in range(1200)]


def _seed(store: Store) -> None:
    with store.write() as tx:
        tx.insert_many([{"_id": i, "origin": "paris", "comment": "100% done"} for i in IDS])


@pytest.mark.parametrize("count", [1, 3, 1200])
def test_an_id_list_binds_every_id_whatever_its_length(store: Store, count: int) -> None:
    _seed(store)
    wanted = [*IDS[:count], "/sql/missing.exr"]
    with store.read() as tx:
        clause, params = sql.in_ids(tx.conn, wanted)
        rows = sql.execute(tx.conn, f"SELECT id FROM nodes WHERE id{clause} ORDER BY id", params)
    assert [r[0] for r in rows] == IDS[:count]


def test_named_parameters_repeat_and_a_literal_percent_stays_literal(store: Store) -> None:
    """`%` in the SQL text is psycopg's placeholder character: SQLAlchemy escapes it (a
    hand-written `?` -> `%s` rewrite did not)."""
    _seed(store)
    with store.read() as tx:
        clause, params = sql.in_ids(tx.conn, IDS[:5], "few")
        rows = sql.execute(
            tx.conn,
            "SELECT id, '100%' FROM nodes WHERE origin = :origin AND id >= :low "
            f"AND (origin = :origin OR id = :low) AND id{clause} ORDER BY id",
            {"origin": "paris", "low": IDS[2], **params},
        )
    assert rows == [(i, "100%") for i in IDS[2:5]]


def test_executemany_takes_rows_in_the_order_the_names_first_appear(store: Store) -> None:
    _seed(store)
    with store.write() as tx:
        sql.execute_many(
            tx.conn,
            "UPDATE nodes SET origin = :origin WHERE id = :id AND origin IS NOT :origin"
            if store.dialect == "sqlite"
            else "UPDATE nodes SET origin = :origin WHERE id = :id "
            "AND origin IS DISTINCT FROM :origin",
            [("tokyo", IDS[0]), ("lyon", IDS[1])],
        )
    with store.read() as tx:
        rows = sql.execute(
            tx.conn, "SELECT id, origin FROM nodes WHERE id IN (:a, :b) ORDER BY id",
            {"a": IDS[0], "b": IDS[1]},
        )  # fmt: skip
    assert rows == [(IDS[0], "tokyo"), (IDS[1], "lyon")]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"tags": {"$in": "x"}}, "tags"),
        ({"k": {"$options": "i"}}, "k"),
        ({"meta.password": 1}, "meta.password"),
        ({"k": {"$in": list(range(search.MAX_IN_VALUES + 1))}}, "k"),
        ({"k": [1, 2]}, "k"),
    ],
)
def test_a_bad_query_names_its_field(query: dict[str, object], field: str) -> None:
    with pytest.raises(QueryError) as caught:
        search.mongo_condition(query, "sqlite")
    assert caught.value.field == field
    assert field in str(caught.value)


def test_a_bad_sort_names_its_field() -> None:
    with pytest.raises(QueryError) as caught:
        search.parse_sort({"time": 2}, "postgresql")
    assert caught.value.field == "sort.time"
    with pytest.raises(QueryError) as caught:
        search.parse_sort({"url": 1}, "postgresql", admin=False)
    assert caught.value.field == "url"
