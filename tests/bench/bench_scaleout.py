"""Scale-out on PostgreSQL (issue 12): not a test, prints figures and per-row costs.

For 1, 2 and 4 `spctl reconcile --once` workers started together on one local hub, it moves
BENCH_SCALEOUT_FILES small files (default 20,000; `--scale`) from a real sshd origin to the
hub and on to a real sshd site (2 deliveries per file), each worker count on a fresh
database, and prints:
- deliveries per second, and the speed-up against one worker;
- what the store spent per delivery, read from PostgreSQL's own statistics
  (`pg_stat_database` of that database: statement time `active_time`, commits, rows written),
  i.e. the claim + record cost per file whatever the machine's rsync speed;
- the table and index bytes per file and per (file, site) row.
Then `GET /api/read/<id>` requests/s with `spctl serve --workers 1` and `--workers 2` on the
same database (keep-alive load from `bench_api`). The load generator, the workers and
PostgreSQL share this machine's cores: the figures are what one host gives, the per-row
costs are what docs/operations.md (scale-out) extrapolates from.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from reconciler.store import Store
from tests.bench import scaled
from tests.bench.bench_api import load, request_bytes
from tests.support.pg import scratch_database
from tests.support.production import put_production
from tests.support.servers import free_port, server_process
from tests.support.spctl import SPCTL
from tests.support.sshd import SshKeys, SshSite

WORKERS = (1, 2, 4)
PASSWORD = "bench-admin-pw"
STATS = "SELECT active_time, xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = current_database()"  # noqa: E501
SIZES = {
    "file_sites": "pg_total_relation_size('file_sites')",
    "nodes": "pg_total_relation_size('nodes')",
    "file_sites indexes": "pg_indexes_size('file_sites')",
}


def file_ids(files: int) -> list[str]:
    return [f"/sc/d{i // 1000:03d}/f{i:06d}.dpx" for i in range(files)]


def make_origin(root: Path, ids: list[str]) -> None:
    for file_id in ids:
        path = root / "sp" / file_id.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(file_id.encode() * 4)
        os.utime(path, (1_700_000_000, 1_700_000_000))


def configure(
    url: str, hub: Path, keys: SshKeys, sites: dict[str, SshSite], ids: list[str]
) -> None:
    store = Store.open(url)
    try:
        volumes = {name: f"{site.url}sp/" for name, site in sites.items()}
        with store.write() as tx:
            put_production(tx, hub_url=f"{hub}/", keys=keys, volumes=volumes, heartbeatSeconds=2)
        now = int(time.time() * 1000)
        for start in range(0, len(ids), 1000):
            docs = [
                {"_id": i, "origin": "paris", "time": now, "author": "bench", "synced_paris": now}
                for i in ids[start : start + 1000]
            ]
            with store.write() as tx:
                tx.insert_many(docs)
    finally:
        store.close()


def stats(engine: sa.Engine) -> tuple[float, int, int]:
    with engine.connect() as conn:
        active, commits, rows = conn.execute(sa.text(STATS)).one()
    return float(active or 0.0), int(commits), int(rows)


def synced(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM file_sites"
                    " WHERE site IN ('hub', 'london') AND state = 'synced'"
                )
            ).scalar_one()
        )


def run_round(
    workers: int, base: Path, keys: SshKeys, sites: dict[str, SshSite], ids: list[str]
) -> dict[str, Any]:
    hub = base / f"hub-{workers}"
    hub.mkdir()
    shutil.rmtree(sites["london"].root / "sp", ignore_errors=True)
    (sites["london"].root / "sp").mkdir()
    for marker in (sites["paris"].root / "sp" / ".syncplanet",):
        shutil.rmtree(marker, ignore_errors=True)
    with scratch_database() as url:
        configure(url, hub, keys, sites, ids)
        engine = sa.create_engine(url)
        time.sleep(1.0)  # the inserts' statistics reach pg_stat_database
        before = stats(engine)
        env = {**os.environ, "SPCTL_HOME": str(base / "home")}
        argv = [*SPCTL, "reconcile", "--once", "--db", url, "--log-level", "error"]
        started = time.monotonic()
        procs = [subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL) for _ in range(workers)]
        codes = [p.wait() for p in procs]
        while synced(engine) < 2 * len(ids):  # a worker left work leased by another: exit 4
            if time.monotonic() - started > 3600:
                break
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=False)
        seconds = time.monotonic() - started
        time.sleep(1.0)  # the workers' statistics are flushed at their exit
        after = stats(engine)
        delivered = synced(engine)
        with engine.connect() as conn:
            sizes = {
                k: int(conn.execute(sa.text(f"SELECT {v}")).scalar_one()) for k, v in SIZES.items()
            }
            rows = int(conn.execute(sa.text("SELECT count(*) FROM file_sites")).scalar_one())
        out = {
            "workers": workers,
            "codes": codes,
            "seconds": seconds,
            "delivered": delivered,
            "db_ms": (after[0] - before[0]) / max(1, delivered),
            "commits": (after[1] - before[1]) / max(1, delivered),
            "rows": (after[2] - before[2]) / max(1, delivered),
            "sizes": sizes,
            "fs_rows": rows,
            "files": len(ids),
        }
        if workers == WORKERS[-1]:
            out["api"] = {n: read_rps(url, ids, n) for n in (1, 2)}
        engine.dispose()
    shutil.rmtree(hub, ignore_errors=True)
    return out


def read_rps(url: str, ids: list[str], processes: int) -> float:
    port = free_port()
    argv = [*SPCTL, "serve", "--db", url, "--port", str(port), "--workers", str(processes),
            "--log-level", "warning"]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-serve-") as tmp:
        env = {
            **os.environ,
            "SPCTL_SECRET": "bench-secret-" + "x" * 32,
            "SPCTL_ADMIN_PASSWORD": PASSWORD,
            "SPCTL_HOME": str(Path(tmp) / "home"),
        }
        with server_process(argv, port=port, logs=Path(tmp), env=env) as server:
            token = httpx.post(
                server.url + "/api/signIn", json={"username": "admin", "password": PASSWORD}
            ).json()["token"]
            reads = [request_bytes("/api/read/" + random.choice(ids), token) for _ in range(5000)]
            pick = iter(range(10**9))
            conns = int(os.environ.get("BENCH_CONNS") or 16)
            load(port, lambda: reads[next(pick) % len(reads)], 1, conns)  # warm-up
            seconds = float(os.environ.get("BENCH_SECONDS") or 4)
            return max(
                load(port, lambda: reads[next(pick) % len(reads)], seconds, conns) for _ in range(2)
            )


def report(results: list[dict[str, Any]]) -> None:
    one = results[0]["delivered"] / results[0]["seconds"]
    print(
        f"  {'workers':>7} {'deliveries/s':>13} {'speed-up':>9} {'db ms/delivery':>15} "
        f"{'commits/delivery':>17} {'rows written/delivery':>22}"
    )
    for r in results:
        rate = r["delivered"] / r["seconds"]
        print(
            f"  {r['workers']:>7} {rate:>13.0f} {rate / one:>8.2f}x {r['db_ms']:>15.3f} "
            f"{r['commits']:>17.3f} {r['rows']:>22.2f}   (exit codes {r['codes']}, "
            f"{r['delivered']} delivered in {r['seconds']:.1f} s)"
        )
    last = results[-1]
    for name, size in last["sizes"].items():
        per = size / last["fs_rows"] if name.startswith("file_sites") else size / last["files"]
        unit = "(file, site) row" if name.startswith("file_sites") else "file"
        print(f"  {name:<20} {size / 2**20:8.1f} MiB  {per:7.0f} B per {unit}")
    for n, rps in last["api"].items():
        print(f"  GET /api/read/<id>, spctl serve --workers {n}: {rps:8.0f} requests/s")
    if len(last["api"]) == 2 and last["api"][1] > 0:
        print(
            f"  API speed-up 1 -> 2 processes: {last['api'][2] / last['api'][1]:.2f}x "
            f"({os.cpu_count()} CPUs shared with the load generator and PostgreSQL)"
        )


def main() -> None:
    if not (os.environ.get("BENCH_PG") or os.environ.get("SPCTL_TEST_PG")):
        print("--- scale-out skipped: set SPCTL_TEST_PG or BENCH_PG (PostgreSQL)")
        return
    os.environ.setdefault("SPCTL_TEST_PG", os.environ.get("BENCH_PG", ""))
    files = scaled("BENCH_SCALEOUT_FILES", 20_000)
    ids = file_ids(files)
    base = Path(
        tempfile.mkdtemp(
            prefix="bench-scaleout-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None
        )
    )
    keys = SshKeys(base / "keys")
    sites = {
        n: SshSite(name=n, dir=base / f"site-{n}", keys=keys).start() for n in ("paris", "london")
    }
    try:
        make_origin(sites["paris"].root, ids)
        print(f"--- PostgreSQL, {files} files x 2 deliveries (origin -> hub -> site), one hub")
        report([run_round(n, base, keys, sites, ids) for n in WORKERS])
    finally:
        for site in sites.values():
            site.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
