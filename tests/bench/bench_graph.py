"""`graph` on a node with 10 edges in a store of BENCH_GRAPH_NODES nodes (default 1,000,000).

Builds the store once per dialect (SQLite always; PostgreSQL when BENCH_PG or SPCTL_TEST_PG
names a server): file nodes, one edge per 1,000 of them between neighbours, and a target
with 10 edges whose sources have edges of their own (a walk of two hops). Then, as the
tracker runs it (`api.service.graph` in a read transaction, depth 0 = no limit), the median of
BENCH_GRAPH_RUNS calls, against the reference measured in the same run: a bare read of one
node by its primary key. Target: < 50 ms at 1,000,000 nodes. The same walk without the edge
index (the JSON predicate that scanned every document before migration 0006) is timed once.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.bench import scaled
from tests.support import pg

TARGET = "/prod/target.exr"
BATCH = 20_000


def node(i: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": f"/prod/seq{i // 1000:04d}/shot{i:07d}.exr", "origin": "paris"}
    doc |= {"time": 1_700_000_000_000 + i, "author": "bench", "file_size": 1000 + i % 5000}
    if i % 1000 == 999:  # an edge between two neighbours
        doc = {"_id": f"edge{i}", "src_id": f"/prod/n{i - 1}", "tgt_id": f"/prod/n{i - 2}"}
    return doc


def walk_docs() -> list[dict[str, Any]]:
    """The target, 10 sources with an edge to it, and one more source behind each."""
    docs: list[dict[str, Any]] = [{"_id": TARGET, "origin": "paris"}]
    for k in range(10):
        docs.append({"_id": f"/prod/src{k}.exr", "origin": "paris"})
        docs.append({"_id": f"/prod/src{k}.ma", "origin": "paris"})
        docs.append({"_id": f"walk{k}", "src_id": f"/prod/src{k}.exr", "tgt_id": TARGET})
        docs.append(
            {"_id": f"walk{k}b", "src_id": f"/prod/src{k}.ma", "tgt_id": f"/prod/src{k}.exr"}
        )
    return docs


def build(url: str, count: int) -> None:
    from reconciler.store import Store
    from reconciler.store.documents import node_columns
    from reconciler.store.schema import nodes
    from tests.bench.bench_api import _copy

    store = Store.open(url)
    start = time.monotonic()
    try:
        for first in range(0, count, BATCH):
            rows = [node_columns(node(i)) for i in range(first, min(count, first + BATCH))]
            with store.engine.begin() as conn:
                if store.dialect == "postgresql":
                    _copy(conn, "nodes", rows, json_column="doc")
                else:
                    conn.execute(nodes.insert(), rows)
            print(f"\r  built {min(count, first + BATCH):,} nodes", end="", flush=True)
        with store.write() as tx:
            tx.insert_many(walk_docs())
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE" if store.dialect == "postgresql" else "ANALYZE")
    finally:
        store.close()
    print(f"\n  {count:,} nodes in {time.monotonic() - start:.0f}s")


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm the caches as a running tracker has them
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(url: str, runs: int) -> None:
    from api.deps import User, UserClass
    from api.service import Context, graph
    from reconciler.core.passwords import Passwords
    from reconciler.store import Store
    from reconciler.store.query import Predicates
    from reconciler.store.schema import nodes

    store = Store.open(url)
    ctx = Context(user=User("bench", UserClass.ADMIN), now=0, passwords=Passwords())

    def walk() -> object:
        with store.read() as tx:
            reply = graph(tx, ctx, 0, TARGET)
        assert len(reply.body) == 41, len(reply.body)  # 1 + 10 + 10 sources, 20 edges
        return reply

    def by_id() -> object:
        with store.read() as tx:
            return tx.get(TARGET)

    def scan() -> object:  # the edge query before the index: a JSON predicate on every node
        with store.read() as tx:
            preds = Predicates(tx.dialect)
            cond = sa.and_(preds.exists("src_id"), preds.eq("tgt_id", TARGET))
            return tx.conn.execute(sa.select(nodes.c.doc).where(cond)).all()

    try:
        graph_ms, read_ms = median_ms(walk, runs), median_ms(by_id, runs)
        start = time.perf_counter()
        scan()
        scan_ms = (time.perf_counter() - start) * 1000
    finally:
        store.close()
    print(f"  graph/0 (2 hops, 20 edges): median {graph_ms:.2f} ms over {runs} runs "
          f"(target < 50 ms)")  # fmt: skip
    print(
        f"  reference, read by id:      median {read_ms:.3f} ms -> ratio {graph_ms / read_ms:.1f}x"
    )
    print(f"  one hop without the index (JSON scan, once): {scan_ms:.0f} ms")


def main() -> None:
    count = scaled("BENCH_GRAPH_NODES", 1_000_000)
    runs = int(os.environ.get("BENCH_GRAPH_RUNS") or 50)
    work = Path(tempfile.mkdtemp(prefix="bench-graph-"))
    url = f"sqlite:///{work / 'graph.db'}"
    print(f"--- SQLite, {count:,} nodes")
    build(url, count)
    measure(url, runs)
    server = os.environ.get("BENCH_PG") or pg.server_url()
    if not server:
        print("--- PostgreSQL skipped: set SPCTL_TEST_PG or BENCH_PG")
        return
    print(f"--- PostgreSQL, {count:,} nodes")
    with pg.scratch_database() as pg_url:
        build(pg_url, count)
        measure(pg_url, runs)
