"""Scan benchmark: a volume over loopback sshd against the raw listing and a bare insert.

In one run, with BENCH_FILES files (default 100,000, empty, 1,000 per folder):
- raw listing: `ssh host find ROOT -printf '%P\\0%s\\0%T@\\0'` of the same tree;
- reference insert: the same rows (`nodes` + derived `file_sites`) written in one
  transaction straight through the DB-API driver, into a fresh store;
- first scan (every file new), then BENCH_ROUNDS (default 5) rounds of a no-op rescan through
  `scan_volume` and the raw listing in alternating order (the median ratio is printed);
- peak RSS (VmHWM) of a child process scanning BENCH_RSS_FILES empty files (default
  1,000,000); BENCH_FILES=0 or BENCH_RSS_FILES=0 skips a part.
Targets (issue 14): first scan <= 1.4x (raw listing + reference insert); no-op rescan
<= 1.5x the raw listing; peak RSS < 300 MB. Store: SQLite, or PostgreSQL when BENCH_PG names
a server (postgresql://user@host/db; a scratch database is created there).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciler.jobs.runtime import Runtime
from reconciler.jobs.scan import ScanReport, scan_volume
from reconciler.jobs.scan.compare import ActionKind
from reconciler.services.metrics import Metrics
from reconciler.store import Store
from reconciler.store.bulk import _write_rows, derived_rows
from reconciler.store.documents import node_columns
from reconciler.transport.shells import LocalShell
from reconciler.transport.ssh import SshSettings
from tests.bench import scaled
from tests.support import pg
from tests.support.sshd import SshKeys, SshSite, client_options


def make_tree(root: Path, count: int) -> None:
    per = 1000
    for start in range(0, count, per):
        folder = root / f"shot{start // per:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(start, min(start + per, count)):
            (folder / f"frame.{i:07d}.exr").touch()


def configure(store: Store, tmp: Path, site: SshSite, keys: SshKeys) -> Runtime:
    with store.write() as tx:
        tx.put_many([
            {"_id": "hub/hub", "name": "hub", "url": f"{tmp}/hub/",
             "identityFile": str(keys.identity), "knownHosts": str(keys.known_hosts)},
            {"_id": "volume/paris", "name": "paris", "url": site.url, "enableDiscovery": True},
            {"_id": "volume/tokyo", "name": "tokyo", "url": f"{tmp}/tokyo/"},
        ])  # fmt: skip
    ssh = SshSettings(str(keys.identity), str(keys.known_hosts))
    return Runtime(store, LocalShell(), ssh, Metrics())


def raw_listing(site: SshSite, keys: SshKeys) -> tuple[float, int]:
    start = time.monotonic()
    out = subprocess.run(
        ["ssh", *client_options(keys), "-p", str(site.port), f"{site.user}@127.0.0.1",
         f"find {site.root} -printf '%P\\0%s\\0%T@\\0'"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return time.monotonic() - start, out.count(b"\0") // 3


def reference_insert(url: str, docs: list[dict[str, object]]) -> float:
    store = Store.open(url)
    with store.write() as tx:
        tx.put_many([{"_id": "hub/hub", "name": "hub", "url": "/h/"},
                     {"_id": "volume/paris", "name": "paris", "url": "/p/"},
                     {"_id": "volume/tokyo", "name": "tokyo", "url": "/t/"}])  # fmt: skip
        cfg = tx.config()
    rows = list(derived_rows(docs, cfg))
    nodes = [node_columns(d) for d in docs]
    start = time.monotonic()
    with store.write() as tx:
        _write_rows(tx, "nodes", nodes)
        _write_rows(tx, "file_sites", rows)
    took = time.monotonic() - start
    store.close()
    return took


def noop_rounds(
    rt: Runtime, site: SshSite, keys: SshKeys
) -> tuple[ScanReport, list[tuple[float, float]]]:
    """BENCH_ROUNDS (default 5) rounds of the raw listing and a no-op rescan, in alternating
    order: on a shared machine only a same-round ratio means anything."""
    rounds: list[tuple[float, float]] = []
    report = None
    for n in range(max(1, int(os.environ.get("BENCH_ROUNDS") or 5))):
        if n % 2 == 0:
            listing, _ = raw_listing(site, keys)
        start = time.monotonic()
        report = scan_volume(rt, "paris")
        rescan = time.monotonic() - start
        if n % 2 == 1:
            listing, _ = raw_listing(site, keys)
        rounds.append((listing, rescan))
    assert report is not None
    return report, rounds


class Stores:
    """Fresh store URLs: SQLite files, or scratch databases on BENCH_PG."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.pg = os.environ.get("BENCH_PG")
        self.opened: list[object] = []

    def new(self, name: str) -> str:
        if not self.pg:
            return f"sqlite:///{self.tmp / name}.db"
        os.environ[pg.ENV] = self.pg
        ctx = pg.scratch_database()
        self.opened.append(ctx)
        return ctx.__enter__()

    def close(self) -> None:
        for ctx in self.opened:
            ctx.__exit__(None, None, None)  # type: ignore[attr-defined]


def timing(tmp: Path, keys: SshKeys, stores: Stores, count: int) -> None:
    site = SshSite("paris", tmp / "site", keys).start()
    try:
        make_tree(site.root, count)
        raw, listed = raw_listing(site, keys)
        raw, _ = min(raw_listing(site, keys), (raw, listed))
        store = Store.open(stores.new("scan"))
        rt = configure(store, tmp, site, keys)
        start = time.monotonic()
        first = scan_volume(rt, "paris")
        first_s = time.monotonic() - start
        noop, rounds = noop_rounds(rt, site, keys)
        with store.read() as tx:
            docs = [d for d in tx.iter_docs() if str(d["_id"]).startswith("/")]
        store.close()
        ref = reference_insert(stores.new("reference"), docs)
    finally:
        site.stop()
    if first.count(ActionKind.PUBLISH) != count or noop.changed:
        raise RuntimeError(f"unexpected scan results: {first.actions} then {noop.actions}")
    print(f"files:                      {listed}")
    print(f"raw ssh find listing:       {raw:7.2f} s")
    print(f"reference bulk insert:      {ref:7.2f} s  (nodes + file_sites rows, DB-API)")
    print(
        f"first scan:                 {first_s:7.2f} s  {first.actions}  "
        f"ratio {first_s / (raw + ref):.2f} (target <= 1.4)"
    )
    for i, (listing, rescan) in enumerate(rounds):
        order = "raw first" if i % 2 == 0 else "rescan first"
        print(
            f"  round {i + 1}: raw listing {listing:5.2f} s, no-op rescan {rescan:5.2f} s, "
            f"ratio {rescan / listing:.2f} [{order}]"
        )
    ratio = statistics.median(r / raw for raw, r in rounds)
    print(f"no-op rescan:               median ratio {ratio:.2f} {noop.actions} (target <= 1.5)")


CHILD = """
import json, sys, time
from reconciler.services.metrics import Metrics
from reconciler.transport.shells import LocalShell
from reconciler.transport.ssh import SshSettings
from reconciler.jobs.runtime import Runtime
from reconciler.jobs.scan import scan_volume
from reconciler.jobs.scan.compare import ActionKind
from reconciler.store import Store
url, identity, known = sys.argv[1:4]
rt = Runtime(Store.open(url), LocalShell(), SshSettings(identity, known), Metrics())
out = {}
for name in ("first", "noop"):
    start = time.monotonic()
    report = scan_volume(rt, "paris")
    out[name] = [time.monotonic() - start, report.listed, report.actions]
# VmHWM, not ru_maxrss: Linux carries the forking parent's peak over exec into ru_maxrss
status = open("/proc/self/status").read()
out["rss_kb"] = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps(out))
"""


def memory(tmp: Path, keys: SshKeys, stores: Stores, count: int) -> None:
    site = SshSite("rss", tmp / "rss-site", keys).start()
    try:
        start = time.monotonic()
        make_tree(site.root, count)
        print(f"made {count} empty files in {time.monotonic() - start:.1f} s")
        url = stores.new("rss")
        configure(Store.open(url), tmp, site, keys).store.close()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, url, str(keys.identity), str(keys.known_hosts)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        site.stop()
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("first", "noop"):
        took, listed, actions = result[name]
        print(f"{name:5} scan of {listed} files: {took:7.1f} s  {actions}")
    print(f"peak RSS of the scanning process: {result['rss_kb'] / 1024:.0f} MB (target < 300)")


def main() -> None:
    count = scaled("BENCH_FILES", 100_000)
    rss_count = scaled("BENCH_RSS_FILES", 1_000_000)
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as name:
        tmp = Path(name)
        keys = SshKeys(tmp / "keys")
        stores = Stores(tmp)
        try:
            print(f"store: {'PostgreSQL' if stores.pg else 'SQLite'}")
            if count:
                timing(tmp, keys, stores, count)
            if rss_count:
                memory(tmp, keys, stores, rss_count)
        finally:
            stores.close()


if __name__ == "__main__":
    main()
