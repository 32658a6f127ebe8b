"""The grid's keyset paging and cells on a real store (SQLite and PostgreSQL).

Paging through every order with a small page size must give each file exactly once, in the
order the page promises (ties included), with or without a search filter.
"""

from __future__ import annotations

from typing import Any

import pytest

from api.web.grid import BadCursor, SortKey, encode_cursor, grid_page
from reconciler.store import Store
from reconciler.store.grid import files_filter

T = 1_700_000_000_000


def files() -> list[dict[str, Any]]:
    out = []
    for i in range(23):
        doc: dict[str, Any] = {
            "_id": f"/seq/{'ab'[i % 2]}/f{i:02d}.exr",
            "origin": "paris",
            "time": T + (i // 3) * 1000,  # groups of equal times: ties broken by id
            "sync_priority": i % 4 - 1,  # negative priorities too
            "file_size": i,
        }
        if i == 4:
            doc["sync_tokyo"] = False
        if i == 5:
            doc.update(synced_hub=T + 9000, syncError_tokyo=23, syncLastAttempt_tokyo=T)
        out.append(doc)
    return out


def fill(store: Store, *, hub: bool = True) -> list[dict[str, Any]]:
    docs = files()
    with store.write() as tx:
        if hub:
            tx.put({"_id": "hub/hub", "url": "/srv/hub/"})
        tx.put({"_id": "volume/paris", "url": "/srv/paris/"})
        tx.put({"_id": "volume/tokyo", "url": "/srv/tokyo/"})
        tx.put_many(docs)
        tx.put(
            {"_id": "c1", "#parent": docs[0]["_id"], "comment": "a child, not a file", "time": T}
        )
        tx.put({"_id": "@alice", "class": "user", "time": T + 99_000})
    return docs


EXPECTED = {
    SortKey.TIME: lambda d: (-d["time"], _neg(d["_id"])),
    SortKey.PATH: lambda d: d["_id"],
    SortKey.PRIORITY: lambda d: (-d["sync_priority"], -d["time"], _neg(d["_id"])),
}


def _neg(text: str) -> tuple[int, ...]:
    """A key that sorts strings in descending order (a longer string first on a tie)."""
    return (*(-ord(c) for c in text), 1)


def walk(store: Store, sort: SortKey, limit: int, q: str = "") -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        with store.read() as tx:
            where = files_filter(q, tx.dialect, admin=False, errors_only=False)
            page = grid_page(tx, sort=sort, limit=limit, cursor=cursor, where=where)
        assert page.sort is sort
        assert len(page.files) <= limit
        seen += [f["id"] for f in page.files]
        if page.next is None:
            return seen
        cursor = page.next


@pytest.mark.parametrize("sort", list(SortKey))
def test_paging_gives_every_file_once_in_order(store: Store, sort: SortKey) -> None:
    docs = fill(store)
    expected = [d["_id"] for d in sorted(docs, key=EXPECTED[sort])]
    assert walk(store, sort, limit=4) == expected
    assert walk(store, sort, limit=500) == expected


@pytest.mark.parametrize("sort", list(SortKey))
def test_search_filter_pages_only_matching_files(store: Store, sort: SortKey) -> None:
    docs = fill(store)
    matching = [d for d in docs if "/a/" in d["_id"] and d["sync_priority"] >= 1]
    expected = [d["_id"] for d in sorted(matching, key=EXPECTED[sort])]
    assert expected
    assert walk(store, sort, limit=2, q="_id:/\\/a\\// sync_priority>=1") == expected


def test_cells_follow_the_file_sites_rows(store: Store) -> None:
    docs = fill(store)
    with store.read() as tx:
        page = grid_page(tx, sort=SortKey.PATH, limit=50)
    assert [s["name"] for s in page.sites] == ["hub", "paris", "tokyo"]
    by_id = {f["id"]: f for f in page.files}
    plain = by_id[docs[0]["_id"]]["cells"]
    assert {s: c["state"] for s, c in plain.items()} == {
        "hub": "missing",
        "paris": "synced",
        "tokyo": "missing",
    }
    assert plain["paris"]["origin"] is True
    assert by_id[docs[4]["_id"]]["cells"]["tokyo"]["state"] == "unwanted"
    failed = by_id[docs[5]["_id"]]
    assert failed["cells"]["hub"]["state"] == "synced"
    assert failed["cells"]["tokyo"]["state"] == "error"
    assert failed["cells"]["tokyo"]["error"] == 23
    assert failed["priority"] == docs[5]["sync_priority"]


def test_priority_without_a_hub_falls_back_to_time(store: Store) -> None:
    docs = fill(store, hub=False)
    with store.read() as tx:
        page = grid_page(tx, sort=SortKey.PRIORITY, limit=100)
    assert page.sort is SortKey.TIME
    assert [f["id"] for f in page.files] == [
        d["_id"] for d in sorted(docs, key=EXPECTED[SortKey.TIME])
    ]


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        (SortKey.TIME, "not-base64!"),
        (SortKey.TIME, encode_cursor(["/a"])),  # a path cursor given to the time order
        (SortKey.PATH, encode_cursor([1, "/a"])),
        (SortKey.PRIORITY, encode_cursor([True, 1, "/a"])),
        (SortKey.PRIORITY, encode_cursor([])),
    ],
)
def test_foreign_cursors_are_refused(store: Store, sort: SortKey, cursor: str) -> None:
    fill(store)
    with store.read() as tx, pytest.raises(BadCursor):
        grid_page(tx, sort=sort, limit=5, cursor=cursor)
