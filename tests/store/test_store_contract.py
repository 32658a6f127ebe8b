"""Store contract: the same cases on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

from reconciler.store import Store
from reconciler.store import queue as q

CONFIG = [
    {"_id": "hub/hub", "name": "hub", "url": "/srv/hub/"},
    {"_id": "volume/paris", "name": "paris", "url": "/srv/paris/"},
    {"_id": "volume/tokyo", "name": "tokyo", "url": "/srv/tokyo/"},
]


def seed(store: Store, *files: dict[str, object]) -> None:
    with store.write() as tx:
        tx.put_many(CONFIG)
        tx.insert_many(list(files))


def test_documents_round_trip_and_null_deletes_a_key(store: Store) -> None:
    with store.write() as tx:
        assert tx.insert({"_id": "x", "a": 1, "nested": {"b": [1, 2]}}) is True
        assert tx.insert({"_id": "x", "a": 2}) is False
        assert tx.patch("x", {"a": None, "c": "d"}) == {
            "_id": "x",
            "nested": {"b": [1, 2]},
            "c": "d",
        }
        assert tx.patch("missing", {"a": 1}) is None
    with store.read() as tx:
        assert tx.get_many(["x", "nope", "x"]) == [
            {"_id": "x", "nested": {"b": [1, 2]}, "c": "d"},
            None,
            {"_id": "x", "nested": {"b": [1, 2]}, "c": "d"},
        ]
    with store.write() as tx:
        assert tx.delete_many(["x", "nope"]) == [True, False]
        assert tx.get("x") is None


def test_queues_follow_the_documents(store: Store) -> None:
    seed(store, {"_id": "/a.exr", "origin": "paris", "time": 1000, "file_size": 10})
    with store.read() as tx:
        emission = q.emission_queue(tx, "hub", "paris", 10, now=2000)
        assert [i.file_id for i in emission] == ["/a.exr"]
        assert q.reception_queue(tx, "tokyo", 10, now=2000) == []  # hub has no copy yet
    with store.write() as tx:
        tx.patch("/a.exr", {"synced_hub": 1500})
    with store.read() as tx:
        assert q.emission_queue(tx, "hub", "paris", 10, now=2000) == []
        assert [i.file_id for i in q.reception_queue(tx, "tokyo", 10, now=2000)] == ["/a.exr"]
        assert q.reception_queue(tx, "paris", 10, now=2000) == []  # paris is the origin
        counts = q.counts(tx)
        assert counts["tokyo"].files == {"missing": 1}
        assert counts["hub"].files.get("synced") == 1
        assert counts["paris"].files.get("synced") == 1
    with store.write() as tx:
        tx.patch("/a.exr", {"synced_tokyo": 1600})
    with store.read() as tx:
        assert q.reception_queue(tx, "tokyo", 10, now=2000) == []
        assert q.counts(tx)["tokyo"].files.get("synced") == 1
        assert q.oldest_pending(tx, "tokyo") is None


def test_a_modification_makes_other_copies_outdated(store: Store) -> None:
    seed(
        store,
        {"_id": "/a", "origin": "paris", "time": 1000, "synced_hub": 1100, "synced_tokyo": 1200},
    )
    with store.write() as tx:
        tx.patch("/a", {"time": 5000})
    with store.read() as tx:
        assert [i.file_id for i in q.emission_queue(tx, "hub", "paris", 10, 6000)] == ["/a"]
        assert q.counts(tx)["tokyo"].files.get("outdated") == 1


def test_work_order_priority_then_untried_then_oldest(store: Store) -> None:
    seed(
        store,
        {"_id": "/old", "origin": "paris", "time": 1000},
        {"_id": "/new", "origin": "paris", "time": 3000},
        {"_id": "/urgent", "origin": "paris", "time": 4000, "sync_priority": 5},
        {
            "_id": "/failed",
            "origin": "paris",
            "time": 500,
            "syncError_hub": 23,
            "syncLastAttempt_hub": 600,
        },
        {"_id": "/low", "origin": "paris", "time": 100, "sync_priority": -1},
    )
    with store.read() as tx:
        order = [i.file_id for i in q.emission_queue(tx, "hub", "paris", 10, now=10**12)]
    assert order == ["/urgent", "/old", "/new", "/failed", "/low"]
    with store.read() as tx:  # per-file backoff: the failed file waits
        early = [i.file_id for i in q.emission_queue(tx, "hub", "paris", 10, now=700)]
    assert "/failed" not in early


def test_configuration_change_rederives_desired_state(store: Store) -> None:
    seed(store, {"_id": "/a", "origin": "paris", "time": 1000, "synced_hub": 1100})
    with store.write() as tx:
        tx.put({"_id": "rsyncGlobalParameters", "syncEverywhere": False})
    with store.read() as tx:
        assert q.reception_queue(tx, "tokyo", 10, 2000) == []
    with store.write() as tx:
        tx.put(
            {
                "_id": "synctarget/all",
                "name": "all",
                "paths": ["/**"],
                "sites": ["tokyo"],
                "priority": 3,
            }
        )
    with store.read() as tx:
        items = q.reception_queue(tx, "tokyo", 10, 2000)
        assert [(i.file_id, i.priority) for i in items] == [("/a", 3)]
    with store.write() as tx:  # a new volume gets rows for existing files
        tx.put({"_id": "volume/rome", "name": "rome", "url": "/srv/rome/"})
        tx.put({"_id": "synctarget/all", "name": "all", "paths": ["/**"], "everywhere": True})
    with store.read() as tx:
        assert [i.file_id for i in q.reception_queue(tx, "rome", 10, 2000)] == ["/a"]


def test_claims_are_exclusive(store: Store) -> None:
    seed(store, *({"_id": f"/f{i}", "origin": "paris", "time": i} for i in range(50)))
    ids = [f"/f{i}" for i in range(50)]
    won: dict[str, list[str]] = {}

    def worker(name: str) -> None:
        with store.write() as tx:
            won[name] = q.claim(tx, "hub", ids, name, now=100, until=10_000)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [f for got in won.values() for f in got]
    assert sorted(claimed) == sorted(ids)  # every row claimed exactly once
    with store.read() as tx:  # claimed rows leave the queue until the lease expires
        assert q.emission_queue(tx, "hub", "paris", 100, now=200) == []
        assert len(q.emission_queue(tx, "hub", "paris", 100, now=20_000)) == 50


def test_deleting_a_file_removes_its_rows_and_counts(store: Store) -> None:
    seed(store, {"_id": "/a", "origin": "paris", "time": 1, "file_size": 7})
    with store.write() as tx:
        tx.delete("/a")
    with store.read() as tx:
        counts = q.counts(tx)
        assert all(sum(c.files.values()) == 0 for c in counts.values())
        assert q.emission_queue(tx, "hub", "paris", 10, 100) == []


def test_concurrent_patches_of_one_document_lose_nothing(store: Store) -> None:
    with store.write() as tx:
        tx.put({"_id": "volume/paris", "name": "paris", "url": "/srv/paris/"})

    def writer(key: str) -> None:
        for i in range(20):
            with store.write() as tx:
                tx.patch("volume/paris", {f"{key}{i}": i})

    threads = [threading.Thread(target=writer, args=(k,)) for k in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.read() as tx:
        doc = tx.get("volume/paris")
    assert doc is not None
    assert all(f"{k}{i}" in doc for k in "abc" for i in range(20))


def _state_of(store: Store) -> tuple[list[object], list[object], list[object]]:
    import sqlalchemy as sa

    with store.read() as tx:
        docs = [tx.get(f"/f{i}") for i in range(6)]
        rows = [
            tuple(r)
            for r in tx.conn.execute(
                sa.text(
                    "SELECT file_id, site, state, pending, failed FROM file_sites "
                    "ORDER BY file_id, site"
                )
            )
        ]
        counts = sorted(
            (site, state, n)
            for site, c in q.counts(tx).items()
            for state, n in c.files.items()
            if n
        )
    return docs, rows, counts  # type: ignore[return-value]


def test_mark_syncing_leaves_what_the_general_patch_leaves(store: Store, tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    reference = Store.open(f"sqlite:///{tmp_path / 'reference.db'}")
    files = [
        {"_id": "/f0", "origin": "paris", "time": 10, "file_size": 3},
        {"_id": "/f1", "origin": "paris", "time": 10, "synced_hub": 5},  # outdated on hub
        {
            "_id": "/f2",
            "origin": "paris",
            "time": 10,
            "syncError_hub": 23,
            "syncLastAttempt_hub": 11,
            "syncAttempts_hub": 1,
        },
        {"_id": "/f3", "origin": "paris", "time": 10, "synced_hub": 10, "file_size": 8},
        {"_id": "/f4", "origin": "tokyo", "time": 10},
        {"_id": "/f5", "origin": "paris", "time": 10, "syncing_hub": 1},
    ]
    for s in (store, reference):
        seed(s, *files)
    ids = ["/f0", "/f1", "/f2", "/f4", "/f5"]
    with store.write() as tx:
        tx.mark_syncing("hub", ids, 99)
    with reference.write() as tx:
        tx.patch_many({i: {"syncing_hub": 99} for i in ids})
    assert _state_of(store) == _state_of(reference)
    reference.close()


def _full_state(store: Store, count: int = 6) -> tuple[Any, ...]:
    import sqlalchemy as sa

    with store.read() as tx:
        docs = [tx.get(f"/f{i}") for i in range(count)]
        columns = [
            tuple(r)
            for r in tx.conn.execute(
                sa.text("SELECT id, kind, parent, origin, author, time FROM nodes ORDER BY id")
            )
        ]
        rows = [
            tuple(r)
            for r in tx.conn.execute(
                sa.text(
                    "SELECT file_id, site, wanted, state, pending, ready, failed, removal, "
                    "next_retry, priority, time, size, origin FROM file_sites "
                    "ORDER BY file_id, site"
                )
            )
        ]
        counts = sorted(
            (site, state, c.files.get(state, 0), c.bytes.get(state, 0))
            for site, c in q.counts(tx).items()
            for state in c.files
            if c.files.get(state) or c.bytes.get(state)
        )
    return docs, columns, rows, counts


def test_update_many_with_changed_keys_leaves_what_the_general_write_leaves(
    store: Store, tmp_path: object
) -> None:
    """The reconciler's record path (doc-only rewrite, one volume's rows re-derived)."""
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    reference = Store.open(f"sqlite:///{tmp_path / 'reference.db'}")
    files = [
        {"_id": "/f0", "origin": "paris", "time": 10, "file_size": 3, "synced_hub": 10},
        {"_id": "/f1", "origin": "paris", "time": 10, "synced_hub": 5, "syncing_tokyo": 9},
        {"_id": "/f2", "origin": "paris", "time": 10, "synced_hub": 12, "sync_tokyo": False},
        {"_id": "/f3", "origin": "paris", "time": 10, "synced_hub": 10, "file_size": 8,
         "syncError_tokyo": 23, "syncLastAttempt_tokyo": 11, "syncAttempts_tokyo": 1},
        {"_id": "/f4", "origin": "tokyo", "time": 10, "author": "ann"},
        {"_id": "/f5", "origin": "paris", "time": 10, "deleted": True, "synced_tokyo": 10},
    ]  # fmt: skip
    for s in (store, reference):
        seed(s, *files)
    steps: list[dict[str, object]] = [
        {"syncing_tokyo": 40},  # a claim
        {"syncing_tokyo": None, "synced_tokyo": 50, "syncError_tokyo": None,
         "syncLastAttempt_tokyo": None, "syncAttempts_tokyo": None},  # delivered
        {"syncing_tokyo": None, "syncError_tokyo": 23, "syncLastAttempt_tokyo": 60,
         "syncAttempts_tokyo": 2},  # failed
        {"sync_tokyo": True},  # wanted after all
        {"syncing_hub": None, "synced_hub": 70, "file_size": 7, "file_mtime": 5},  # emission
        {"synced_hub": 75, "syncError_hub": 12},  # the hub's keys alone: every row's `ready`
        {"origin": "tokyo", "time": 80, "author": "bob", "#parent": "/p"},  # indexed columns
        {"origin": None, "time": None},
    ]  # fmt: skip
    ids = [f"/f{i}" for i in range(6)]
    for changes in steps:
        with store.write() as tx:
            docs = [d for d in tx.get_many(ids, for_update=True) if d is not None]
            for doc in docs:
                for key, value in changes.items():
                    if value is None:
                        doc.pop(key, None)
                    else:
                        doc[key] = value
            tx.update_many(docs, changed_keys=set(changes))
        with reference.write() as tx:
            tx.patch_many({i: changes for i in ids})
        assert _full_state(store) == _full_state(reference), changes
        assert_derived_from_documents(store)
    reference.close()


def assert_derived_from_documents(store: Store, count: int = 6) -> None:
    """Indexed columns, rows and counts as computed afresh from the stored documents
    (`/f0` ... `/f<count - 1>`)."""
    from reconciler.core.desired import site_rows
    from reconciler.store.documents import node_columns

    docs, columns, rows, counts = _full_state(store, count)
    files = [d for d in docs if isinstance(d, dict)]
    assert [c for c in columns if str(c[0]).startswith("/")] == [
        tuple(node_columns(d)[k] for k in ("id", "kind", "parent", "origin", "author", "time"))
        for d in sorted(files, key=lambda d: d["_id"])
    ]
    with store.read() as tx:
        cfg = tx.config()
    fresh = sorted(
        (r.file_id, r.site, int(r.wanted), r.state.value, int(r.pending), int(r.ready),
         int(r.failed), int(r.removal), r.next_retry, r.priority, r.time, r.size, r.origin)
        for d in files
        for r in site_rows(d, cfg)
    )  # fmt: skip
    assert rows == fresh
    with store.write() as tx:
        tx.recount()
    assert _full_state(store, count)[3] == counts
