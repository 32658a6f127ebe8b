"""Benchmark of the tracker API on a big store (issue 2): not a test, prints figures and ratios.

For each store (SQLite, and PostgreSQL when SPCTL_TEST_PG or BENCH_PG names a server) it
builds BENCH_FILES files (default 1,000,000) with sync keys for BENCH_SITES sites (default 8:
the hub and 7 volumes) by bulk inserts (Core executemany on SQLite, COPY on PostgreSQL, the
derived `file_sites` rows computed by `reconciler.core.desired.site_rows`), then:
- starts one uvicorn worker (a separate process) and measures requests/s of
  `GET /api/read/<id>` (random ids, authenticated) against a bare route returning a constant,
  with a small asyncio keep-alive load generator (BENCH_SECONDS per measure, BENCH_CONNS
  connections); the goal is a ratio of at least 80% (issue 14), on PostgreSQL too;
- times `origin:paris` (a page of 1,000, in SQL and over HTTP) and the two work-queue queries
  (reception for a volume, emission from a volume to the hub); the goal is under 50 ms.
Requests/s alternate BENCH_ROUNDS rounds (default 3) and keep each route's best.
Quick check: `BENCH_FILES=20000 python -m tests.bench api`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from tests.bench import scaled
from tests.support.servers import free_port, server_process

SITES = [
    "hub",
    "paris",
    "lyon",
    "london",
    "montreal",
    "tokyo",
    "berlin",
    "madrid",
    "rome",
    "oslo",
    "lima",
    "quito",
]
PASSWORD = "bench-admin"
SECRET = "bench-secret-bench-secret-bench-secret"
BATCH = 20_000


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


# ---- building the store ------------------------------------------------------------------


def config_docs(sites: list[str]) -> list[dict[str, Any]]:
    hub, volumes = sites[0], sites[1:]
    docs: list[dict[str, Any]] = [{"_id": f"hub/{hub}", "name": hub, "url": "/srv/hub/"}]
    docs += [{"_id": f"volume/{v}", "name": v, "url": f"/srv/{v}/"} for v in volumes]
    return docs


def file_doc(i: int, sites: list[str], now: int) -> dict[str, Any]:
    volumes = sites[1:]
    origin = volumes[i % len(volumes)]
    t = now - (i % 100_000) * 1000
    doc: dict[str, Any] = {
        "_id": f"/prod/seq{i // 1000:04d}/shot{i:07d}.exr",
        "origin": origin,
        "author": "support",
        "time": t,
        "comment": f"scanned at {origin}",
        "file_size": 1000 + i % 5000,
        "file_mtime": t,
    }
    for site in sites:
        doc[f"synced_{site}"] = t
    if i % 1000 == 1:  # a few copies missing on the hub: emission work
        del doc[f"synced_{sites[0]}"]
    if i % 1000 == 2:  # a few outdated copies on a volume: reception work
        doc[f"synced_{volumes[(i + 1) % len(volumes)]}"] = t - 5000
    if i % 50 == 0:
        doc["sync_priority"] = i % 7
    return doc


def build(url: str, files: int, sites: list[str]) -> None:
    from reconciler.core.desired import site_rows
    from reconciler.store import Store
    from reconciler.store.documents import node_columns
    from reconciler.store.schema import file_sites, nodes

    store = Store.open(url)
    with store.write() as tx:
        tx.put_many(config_docs(sites))
        cfg = tx.config()
    now = int(time.time() * 1000)
    pg = store.dialect == "postgresql"
    start = time.monotonic()
    rows_total = 0
    for first in range(0, files, BATCH):
        docs = [file_doc(i, sites, now) for i in range(first, min(files, first + BATCH))]
        node_rows = [node_columns(d) for d in docs]
        derived = [_row(r) for d in docs for r in site_rows(d, cfg)]
        rows_total += len(derived)
        with store.engine.begin() as conn:
            if pg:
                _copy(conn, "nodes", node_rows, json_column="doc")
                _copy(conn, "file_sites", derived)
            else:
                conn.execute(nodes.insert(), node_rows)
                conn.execute(file_sites.insert(), derived)
        done = min(files, first + BATCH)
        rate = done / (time.monotonic() - start)
        print(f"\r  built {done:,} files ({rate:,.0f} files/s)", end="", flush=True)
    with store.write() as tx:
        tx.recount()
        tx.meta_set("config_fingerprint", cfg.fingerprint)
    # Fresh statistics, and on PostgreSQL a visibility map (autovacuum's steady state), so
    # that counts can use index-only scans as they would in production.
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if pg else "ANALYZE")
    print(f"\n  {files:,} files, {rows_total:,} file_sites rows in {time.monotonic() - start:.0f}s")
    store.close()


def _row(r: Any) -> dict[str, Any]:
    return {
        "file_id": r.file_id,
        "site": r.site,
        "wanted": int(r.wanted),
        "state": r.state.value,
        "pending": int(r.pending),
        "ready": int(r.ready),
        "failed": int(r.failed),
        "removal": int(r.removal),
        "next_retry": r.next_retry,
        "priority": r.priority,
        "time": r.time,
        "size": r.size,
        "origin": r.origin,
        "lease_until": None,
        "lease_owner": None,
    }


def _copy(
    conn: sa.Connection, table: str, rows: list[dict[str, Any]], json_column: str | None = None
) -> None:
    columns = list(rows[0])
    raw: Any = conn.connection.driver_connection
    with raw.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c == json_column else row[c] for c in columns])


# ---- serving and load --------------------------------------------------------------------


def serve(url: str, port: int) -> None:
    """Entry of the server process: the real app plus a bare constant route."""
    import uvicorn

    from api.app import create_app
    from api.settings import Settings

    app = create_app(Settings(db_url=url, secret=SECRET, admin_password=PASSWORD))

    @app.get("/bench/constant")
    async def constant() -> dict[str, bool]:
        return {"ok": True}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextmanager
def api_server(url: str) -> Iterator[str]:
    """`serve` above in a child process on a free port, ready; its URL."""
    port = free_port()
    argv = [sys.executable, "-m", "tests.bench.bench_api", "serve", url, str(port)]
    with (
        tempfile.TemporaryDirectory(prefix="bench-api-serve-") as logs,
        server_process(argv, port=port, logs=Path(logs)) as server,
    ):
        yield server.url


async def _worker(
    port: int, requests: Callable[[], bytes], deadline: float, counts: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < deadline:
            writer.write(requests())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            counts[0 if status < 300 else 1] += 1
    finally:
        writer.close()


def load(port: int, requests: Callable[[], bytes], seconds: float, conns: int) -> float:
    """Requests/s over `conns` keep-alive connections (errors are counted and reported)."""
    counts = [0, 0]

    async def run() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_worker(port, requests, deadline, counts) for _ in range(conns)))

    start = time.monotonic()
    asyncio.run(run())
    if counts[1]:
        print(f"  warning: {counts[1]} error replies")
    return counts[0] / (time.monotonic() - start)


def request_bytes(path: str, token: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n").encode()


# ---- timing queries ----------------------------------------------------------------------


def timed(action: Callable[[], Any], runs: int = 7) -> tuple[float, Any]:
    """Median wall time in ms (after one warm-up run) and the last result."""
    result = action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def query_figures(url: str, sites: list[str]) -> list[tuple[str, float, int]]:
    from api import service
    from reconciler.store import Store
    from reconciler.store.queue import emission_queue, reception_queue

    store = Store.open(url)
    now = int(time.time() * 1000) + 10**9
    out = []
    with store.read() as tx:
        ms, ids = timed(lambda: service.search_text(tx, "origin:paris", limit=1000))
        out.append(("search origin:paris (SQL, page of 1000)", ms, len(ids)))
        ms, res = timed(
            lambda: service.search_mongo(tx, {"query": {"origin": "paris"}, "limit": 1000})
        )
        out.append(("search_mongo {origin: paris} with count", ms, len(res["ids"])))
        ms, items = timed(lambda: reception_queue(tx, sites[2], 1000, now))
        out.append((f"reception queue of {sites[2]} (1000)", ms, len(items)))
        ms, items = timed(lambda: emission_queue(tx, sites[0], "paris", 1000, now))
        out.append(("emission queue paris -> hub (1000)", ms, len(items)))
    store.close()
    return out


# ---- one store ---------------------------------------------------------------------------


def bench_store(label: str, url: str, files: int, sites: list[str]) -> None:
    print(f"--- {label}: {files:,} files x {len(sites)} sites")
    build(url, files, sites)
    for name, ms, n in query_figures(url, sites):
        verdict = "ok" if ms < 50 else "SLOW"
        print(f"  {name:<45} {ms:8.1f} ms  ({n} rows)  [{verdict} vs 50 ms]")
    seconds = float(os.environ.get("BENCH_SECONDS") or 3)
    conns = env_int("BENCH_CONNS", 8)
    with api_server(url) as base:
        port = int(base.rsplit(":", 1)[1])
        signed = httpx.post(base + "/api/signIn", json={"username": "admin", "password": PASSWORD})
        token = signed.json()["token"]
        ids = [file_doc(random.randrange(files), sites, 0)["_id"] for _ in range(20_000)]
        one = httpx.get(base + "/api/read/" + ids[0], headers={"Authorization": f"Bearer {token}"})
        assert one.status_code == 200, one.text
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
            ms, _ = timed(lambda: http.get("/api/search/origin:paris?limit=1000"), runs=5)
        print(f"  {'search origin:paris over HTTP (page of 1000)':<45} {ms:8.1f} ms")
        constant = request_bytes("/bench/constant", token)
        reads = [request_bytes("/api/read/" + i, token) for i in ids]
        pick = iter(range(10**9))
        load(port, lambda: constant, 1, conns)  # warm-up of both paths
        load(port, lambda: reads[next(pick) % len(reads)], 1, conns)
        # Alternate rounds and keep each route's best: the load generator shares the CPUs.
        const_rps = read_rps = 0.0
        for _ in range(env_int("BENCH_ROUNDS", 3)):
            const_rps = max(const_rps, load(port, lambda: constant, seconds, conns))
            read_rps = max(
                read_rps, load(port, lambda: reads[next(pick) % len(reads)], seconds, conns)
            )
    ratio = read_rps / const_rps
    verdict = "ok" if ratio >= 0.8 else "BELOW 80%"
    print(f"  constant route: {const_rps:8,.0f} req/s")
    print(f"  read by _id:    {read_rps:8,.0f} req/s  ratio {ratio:.0%}  [{verdict}]")


def main() -> None:
    files = scaled("BENCH_FILES", 1_000_000)
    sites = SITES[: env_int("BENCH_SITES", 8)]
    stores = (os.environ.get("BENCH_STORES") or "sqlite,postgres").split(",")
    if "sqlite" in stores:
        with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
            bench_store("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", files, sites)
    pg = os.environ.get("BENCH_PG") or os.environ.get("SPCTL_TEST_PG")
    if "postgres" in stores and pg:
        from tests.support.pg import scratch_database

        with scratch_database() if not os.environ.get("BENCH_PG") else _given(pg) as url:
            bench_store("PostgreSQL", url, files, sites)
    elif "postgres" in stores:
        print("--- PostgreSQL skipped: set SPCTL_TEST_PG or BENCH_PG")


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
