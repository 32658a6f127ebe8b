"""The per-site activity samples, on SQLite and PostgreSQL: written by ordinary document
writes in the transaction that moves the counters, read back per site, pruned after a day."""

from __future__ import annotations

import sqlalchemy as sa

from reconciler.store import Store, samples
from reconciler.store.schema import site_samples

T = 1_700_000_000_000 - 1_700_000_000_000 % samples.MINUTE_MS  # a whole minute
FILE = "/shots/s010.exr"
SIZE = 4096


def write(store: Store, at_ms: int, *docs: dict[str, object]) -> None:
    with store.write() as tx:
        tx.clock = lambda: at_ms / 1000
        for doc in docs:
            tx.put(doc)


def patch(store: Store, at_ms: int, changes: dict[str, object]) -> None:
    with store.write() as tx:
        tx.clock = lambda: at_ms / 1000
        tx.patch(FILE, changes)


def history(store: Store, start_ms: int) -> dict[str, list[samples.Sample]]:
    with store.read() as tx:
        return samples.since(tx, ["hub", "paris", "tokyo"], start_ms)


def configured(store: Store) -> None:
    with store.engine.begin() as conn:  # the PostgreSQL database is shared by the session
        conn.execute(sa.text("DELETE FROM site_samples"))
    write(
        store,
        T,
        {"_id": "hub/hub", "url": "/srv/hub/"},
        {"_id": "volume/paris", "url": "/srv/paris/"},
        {"_id": "volume/tokyo", "url": "/srv/tokyo/"},
    )


def test_a_publish_then_deliveries_are_sampled_per_minute(store: Store) -> None:
    configured(store)
    write(store, T + 5_000, {"_id": FILE, "origin": "paris", "time": T, "file_size": SIZE})
    got = history(store, T)
    # The new file is wanted on the hub and on tokyo: both backlogs grew; nothing delivered.
    assert [
        (s.minute, s.backlog_files, s.backlog_bytes, s.delivered_files) for s in got["hub"]
    ] == [(T, 1, SIZE, 0)]
    assert [(s.backlog_files, s.delivered_files) for s in got["tokyo"]] == [(1, 0)]
    assert got["paris"] == []  # the origin's copy is synced from the start

    patch(store, T + 61_000, {"synced_hub": T + 61_000})  # the emission, a minute later
    patch(store, T + 62_000, {"syncError_tokyo": 23, "syncLastAttempt_tokyo": T + 62_000})
    patch(store, T + 130_000, {"synced_tokyo": T + 130_000, "syncError_tokyo": None})
    got = history(store, T)
    assert [
        (s.minute, s.delivered_files, s.delivered_bytes, s.backlog_files) for s in got["hub"]
    ] == [
        (T, 0, 0, 1),
        (T + 60_000, 1, SIZE, 0),
    ]
    # missing -> error keeps the backlog (no new row); error -> synced is a delivery.
    assert [(s.minute, s.delivered_files, s.backlog_files) for s in got["tokyo"]] == [
        (T, 0, 1),
        (T + 120_000, 1, 0),
    ]
    # A window opening later starts with the row in force at its start.
    later = history(store, T + 90_000)
    assert [s.minute for s in later["hub"]] == [T + 60_000]
    assert [s.minute for s in later["tokyo"]] == [T, T + 120_000]


def test_two_deliveries_in_one_minute_add_up(store: Store) -> None:
    configured(store)
    other = "/shots/s020.exr"
    write(
        store,
        T,
        {"_id": FILE, "origin": "paris", "time": T, "file_size": SIZE},
        {"_id": other, "origin": "paris", "time": T, "file_size": 10},
    )
    patch(store, T + 1_000, {"synced_hub": T + 1_000})
    with store.write() as tx:
        tx.clock = lambda: (T + 2_000) / 1000
        tx.patch(other, {"synced_hub": T + 2_000})
    [row] = history(store, T)["hub"]
    assert (row.delivered_files, row.delivered_bytes, row.backlog_files) == (2, SIZE + 10, 0)


def test_rows_older_than_a_day_are_pruned_but_the_value_in_force_stays(store: Store) -> None:
    configured(store)
    write(store, T, {"_id": FILE, "origin": "paris", "time": T, "file_size": SIZE})
    patch(store, T + 60_000, {"synced_hub": T + 60_000})
    day = samples.RETENTION_MS
    patch(store, T + day + 600_000, {"comment": "no counter moves"})
    patch(store, T + day + 660_000, {"time": T + day + 660_000})  # a new version: outdated
    with store.read() as tx:
        rows = tx.conn.execute(
            sa.select(site_samples.c.minute)
            .where(site_samples.c.site == "hub")
            .order_by(site_samples.c.minute)
        ).all()
    # T's row is older than a day and superseded by T + 1 min's, which still applies.
    assert [r[0] for r in rows] == [T + 60_000, T + day + 660_000]
