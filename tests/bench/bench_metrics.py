"""Benchmark: one `/metrics` scrape of the store collector at 1,000,000 files x 8 sites.

The store is filled in bulk by SQL (the collector only reads the derived `file_sites` rows
and `site_counts`, so the documents themselves are not needed): the hub and 7 volumes,
`BENCH_PENDING` of the copies pending (steady state: 1%). Each scrape (prometheus_client's
`generate_latest` over the registry holding the collector) is timed against the naive
aggregate a collector without maintained counters would run (`GROUP BY site, state` over
every row) on the same data. SQLite always; PostgreSQL when `BENCH_PG` or `SPCTL_TEST_PG`
names a server (a scratch database is created and dropped).

Sizes: BENCH_FILES (default 1000000), BENCH_SITES (8), BENCH_PENDING (0.01),
BENCH_SCRAPES (20).
"""

from __future__ import annotations

import os
import time

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest

from reconciler.services.metrics import Metrics
from reconciler.store import Store
from tests.bench import median_seconds, scaled, stores

FILES = scaled("BENCH_FILES", 1_000_000)
SITES = int(os.environ.get("BENCH_SITES", "8"))
PENDING = float(os.environ.get("BENCH_PENDING", "0.01"))
SCRAPES = int(os.environ.get("BENCH_SCRAPES", "20"))
T0 = 1_700_000_000_000

NAIVE = sa.text(
    "SELECT site, state, count(*), coalesce(sum(size), 0) FROM file_sites "
    "WHERE wanted = 1 GROUP BY site, state"
)


def site_names() -> list[str]:
    return ["hub", *(f"site{i}" for i in range(1, SITES))]


def configure(store: Store) -> None:
    sites = site_names()
    with store.write() as tx:
        tx.put_many(
            [{"_id": "hub/hub", "name": "hub", "url": "/srv/hub/"}]
            + [{"_id": f"volume/{s}", "name": s, "url": f"/srv/{s}/"} for s in sites[1:]]
        )


def fill(store: Store) -> None:
    """FILES x SITES rows; every `1/PENDING`-th file is missing on every site but its origin."""
    every = max(1, round(1 / PENDING)) if PENDING > 0 else FILES + 1
    sites = site_names()
    pending = f"(i % {every} = 0 AND s.site <> 'site1')"
    columns = (
        "file_id, site, wanted, state, pending, ready, failed, removal, next_retry, "
        "priority, time, size, origin"
    )
    values = (
        f"s.site, 1, CASE WHEN {pending} THEN 'missing' ELSE 'synced' END, "
        f"CASE WHEN {pending} THEN 1 ELSE 0 END, 1, 0, 0, NULL, 0, {T0} + i, 1048576, 'site1'"
    )
    if store.dialect == "postgresql":
        sql = (
            f"INSERT INTO file_sites ({columns}) SELECT format('/seq%s/f%s.exr', i / 1000, i), "
            f"{values} FROM generate_series(0, {FILES - 1}) AS i "
            f"CROSS JOIN unnest(ARRAY[{', '.join(repr(s) for s in sites)}]) AS s(site)"
        )
    else:
        union = " UNION ALL ".join(f"SELECT '{s}' AS site" for s in sites)
        sql = (
            f"INSERT INTO file_sites ({columns}) WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL "
            f"SELECT i + 1 FROM n WHERE i + 1 < {FILES}) SELECT "
            f"printf('/seq%d/f%d.exr', i / 1000, i), {values} "
            f"FROM n AS n CROSS JOIN ({union}) AS s"
        )
    with store.write() as tx:
        tx.conn.execute(sa.text(sql))
        tx.recount()
    if store.dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE file_sites"))
    else:
        with store.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))


def run(label: str, url: str) -> None:
    store = Store.open(url)
    try:
        start = time.monotonic()
        configure(store)
        fill(store)
        print(f"{label}: filled {FILES:,} files x {SITES} sites in {time.monotonic() - start:.0f}s")
        metrics = Metrics(CollectorRegistry())
        metrics.register_store_collector(store)
        body = generate_latest(metrics.registry)
        assert b'syncplanet_files{site="site2",state="missing"}' in body

        def naive() -> object:
            with store.read() as tx:
                return tx.conn.execute(NAIVE).all()

        scrape = median_seconds(lambda: generate_latest(metrics.registry), SCRAPES, warm_up=True)
        bare = median_seconds(naive, max(3, SCRAPES // 5), warm_up=True)
        print(f"{label}: scrape {scrape * 1000:.1f} ms (median of {SCRAPES}); naive GROUP BY "
              f"{bare * 1000:.0f} ms; ratio scrape/naive = {scrape / bare:.4f}")  # fmt: skip
    finally:
        store.close()


def main() -> None:
    for label, url in stores("bench-metrics-"):
        run(label, url)


if __name__ == "__main__":
    main()
