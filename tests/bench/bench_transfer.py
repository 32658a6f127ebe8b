"""Benchmark: the reconciler against the raw rsync chain, over the same loopback sshd.

Two workloads, each published at site A and delivered to the hub and sites B and C:
- 10,000 files of 4 KiB (small-file throughput: per-call cost decides);
- 20 files of 100 MiB (streaming throughput).
Reference: `rsync -a` of the same tree A -> hub, hub -> B, hub -> C, one after the other.
Reconciler: from the publish (one `insert_many`) to every `synced_` key set, with
`reconcile_once` (emission, then receptions of B and C in parallel).

Environment: BENCH_SCALE (default 1) multiplies the file counts and the big file size
(BENCH_SCALE=0.1: 1,000 small files, 20 files of 10 MiB); BENCH_AMOUNT overrides the batch
size (`syncAmountEmission/Reception`), default: the configuration defaults; BENCH_ONLY=small
or BENCH_ONLY=big runs one workload.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from reconciler.domain import synced_key
from reconciler.metrics import Metrics
from reconciler.runtime import now_ms
from reconciler.scheduler import open_session, reconcile_once
from reconciler.store import Store
from tests.support.sshd import SshKeys, SshSite, client_options

KiB, MiB = 1024, 1024**2


@dataclass(frozen=True)
class Workload:
    name: str
    files: int
    size: int


def _workloads(scale: float) -> list[Workload]:
    return [
        Workload("small", max(10, int(10_000 * scale)), 4 * KiB),
        Workload("big", 20, max(MiB, int(100 * MiB * scale))),
    ]


def _make_tree(root: Path, work: Workload) -> list[str]:
    ids = []
    block = os.urandom(min(work.size, 4 * MiB))
    for i in range(work.files):
        file_id = f"/{work.name}/d{i // 500:03d}/f{i:06d}.bin"
        path = root / file_id.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            left = work.size
            while left > 0:
                fh.write(block[:left] if left < len(block) else block)
                left -= len(block)
        ids.append(file_id)
    return ids


def _rsync(keys: SshKeys, port: int, src: str, dst: str) -> None:
    rsh = " ".join(["ssh", *client_options(keys), "-p", str(port)])
    subprocess.run(["rsync", "-a", "-e", rsh, src, dst], check=True)


def _raw_chain(keys: SshKeys, sites: dict[str, SshSite], hub: Path, work: Workload) -> float:
    a = sites["a"]
    start = time.monotonic()
    _rsync(keys, a.port, f"{a.user}@127.0.0.1:{a.root}/sp/{work.name}/", f"{hub}/{work.name}/")
    for name in ("b", "c"):
        site = sites[name]
        (site.root / "raw").mkdir(exist_ok=True)
        _rsync(
            keys,
            site.port,
            f"{hub}/{work.name}/",
            f"{site.user}@127.0.0.1:{site.root}/raw/{work.name}/",
        )
    return time.monotonic() - start


def _configure(store: Store, keys: SshKeys, sites: dict[str, SshSite], hub: Path) -> None:
    amount = os.environ.get("BENCH_AMOUNT")
    extra = (
        {"syncAmountEmission": int(amount), "syncAmountReception": int(amount)} if amount else {}
    )
    with store.write() as tx:
        tx.put(
            {"_id": "rsyncGlobalParameters", "name": "rsyncGlobalParameters", "enableScans": False}
        )
        tx.put(
            {
                "_id": "hub/hub",
                "name": "hub",
                "url": f"{hub}/",
                "identityFile": str(keys.identity),
                "knownHosts": str(keys.known_hosts),
            }
        )
        for name, site in sites.items():
            (site.root / "sp").mkdir(exist_ok=True)
            tx.put(
                {
                    "_id": f"volume/{name}",
                    "name": name,
                    "url": f"ssh://{site.user}@127.0.0.1:{site.port}{site.root}/sp/",
                    **extra,
                }
            )


def _reconciler(store: Store, ids: list[str]) -> float:
    start = time.monotonic()
    stamp = now_ms()
    with store.write() as tx:
        tx.insert_many(
            [
                {"_id": f, "origin": "a", "time": stamp, "author": "bench", synced_key("a"): stamp}
                for f in ids
            ]
        )
    session = open_session(store, metrics=Metrics())
    try:
        errors = reconcile_once(session.rt, scans=False)
    finally:
        session.close()
    elapsed = time.monotonic() - start
    with store.read() as tx:
        docs = [d for d in tx.get_many(ids) if d is not None]
    missing = [d["_id"] for d in docs for s in ("hub", "b", "c") if synced_key(s) not in d]
    if errors or missing or len(docs) != len(ids):
        raise RuntimeError(f"reconciler did not converge: {len(missing)} copies missing")
    return elapsed


def main() -> None:
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    work_dir = Path(tempfile.mkdtemp(prefix="bench-transfer-"))
    keys = SshKeys(work_dir / "keys")
    sites = {
        n: SshSite(name=n, dir=work_dir / f"site-{n}", keys=keys).start() for n in ("a", "b", "c")
    }
    raw_hub, hub = work_dir / "raw-hub", work_dir / "hub"
    raw_hub.mkdir()
    hub.mkdir()
    store = Store.open(f"sqlite:///{work_dir / 'bench.db'}")
    try:
        _configure(store, keys, sites, hub)
        only = os.environ.get("BENCH_ONLY")
        for work in [w for w in _workloads(scale) if not only or w.name == only]:
            ids = _make_tree(sites["a"].root / "sp", work)
            total = work.files * work.size
            raw = _raw_chain(keys, sites, raw_hub, work)
            ours = _reconciler(store, ids)
            mb = 3 * total / MiB
            print(
                f"{work.name}: {work.files} files x {work.size // KiB} KiB, "
                f"delivered to hub + 2 sites",
                flush=True,
            )
            print(f"  raw rsync chain : {raw:8.2f} s  ({mb / raw:8.1f} MiB/s)", flush=True)
            print(f"  reconciler      : {ours:8.2f} s  ({mb / ours:8.1f} MiB/s)", flush=True)
            print(
                f"  ratio           : {ours / raw:8.2f} x the raw chain "
                f"(throughput {100 * raw / ours:.0f}% of it)",
                flush=True,
            )
    finally:
        store.close()
        for site in sites.values():
            site.stop()
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
