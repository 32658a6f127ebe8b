"""Benchmark: the reconciler against the raw rsync chain across a simulated ocean.

Every site (a, b, c) is a real sshd behind a WAN proxy (tests/support/wan.py) adding the
one-way delay (RTT / 2) and a 400 Mbit/s cap per site; the hub is a local folder. Files are
published at a and delivered to the hub and to b and c.
- big: 20 files of 64 MiB (streaming: SSH's channel window per RTT decides);
- small: 2,000 files of 64 KiB (round trips and per-file cost decide).
Each at 100 ms and 200 ms RTT. Reference: `rsync -a` of the same tree a -> hub, hub -> b,
hub -> c, one after the other, through the same proxies. Reconciler: from the publish to
every `synced_` key set, with `reconcile_once` and `parallelStreams` (default 4); also with
`parallelStreams: 1` (one stream per leg, as before issue 15) unless BENCH_WAN_QUICK=1.
A last section runs 4 raw rsyncs at once over one shared ControlMaster (4 channels of one
connection, the transport's choice) and over 4 separate connections, to compare the two.

Environment: BENCH_SCALE (default 1) multiplies the big file size and the small file count
(0.25: 16 MiB and 500 files); BENCH_WAN_RTT (ms, comma-separated, default "100,200");
BENCH_WAN_MBIT (default 400); BENCH_ONLY=small|big; BENCH_WAN_QUICK=1 skips the
one-stream runs and the connection comparison.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconciler.core.clock import now_ms
from reconciler.core.domain import synced_key
from reconciler.jobs.scheduler import open_session, reconcile_once
from reconciler.services.metrics import Metrics
from reconciler.store import Store
from tests.bench import write_sized
from tests.support.production import put_production
from tests.support.sshd import SshKeys, SshSite, client_options
from tests.support.wan import MBIT, WanProxy

KiB, MiB = 1024, 1024**2
SITES = ("a", "b", "c")


@dataclass(frozen=True)
class Workload:
    name: str
    files: int
    size: int


def _workloads(scale: float) -> list[Workload]:
    return [
        Workload("big", 20, max(MiB, int(64 * MiB * scale))),
        Workload("small", max(20, int(2000 * scale)), 64 * KiB),
    ]


@dataclass
class Site:
    sshd: SshSite
    proxy: WanProxy

    @property
    def login(self) -> str:
        return f"{self.sshd.user}@127.0.0.1"

    def url(self, sub: str) -> str:
        return f"ssh://{self.sshd.user}@127.0.0.1:{self.proxy.port}{self.sshd.root}/{sub}/"


@contextmanager
def _sites(work_dir: Path, keys: SshKeys, rate: float) -> Iterator[dict[str, Site]]:
    sites: dict[str, Site] = {}
    try:
        for name in SITES:
            sshd = SshSite(name=name, dir=work_dir / f"site-{name}", keys=keys).start()
            proxy = WanProxy(sshd.port, delay=0.05, rate=rate, buffer=4 * MiB).start()
            sites[name] = Site(sshd, proxy)
            # the proxy's port is the site's address as the hub sees it: same host key
            kind, key = (sshd.dir / "host_ed25519.pub").read_text().split()[:2]
            keys.trust(f"[127.0.0.1]:{proxy.port}", f"{kind} {key}")
        yield sites
    finally:
        for site in sites.values():
            site.proxy.stop()
            site.sshd.stop()


def _make_tree(root: Path, tag: str, work: Workload) -> list[str]:
    ids = []
    block = os.urandom(min(work.size, 4 * MiB))
    for i in range(work.files):
        file_id = f"/{tag}/d{i // 500:03d}/f{i:06d}.bin"
        write_sized(root / file_id.lstrip("/"), work.size, block)
        ids.append(file_id)
    return ids


def _rsh(keys: SshKeys, port: int, control: Path | None = None) -> str:
    opts = ["ssh", *client_options(keys), "-p", str(port)]
    if control is not None:
        opts += ["-o", "ControlMaster=auto", "-o", f"ControlPath={control}/%C"]
        opts += ["-o", "ControlPersist=30"]
    return " ".join(opts)


def _rsync(keys: SshKeys, port: int, src: str, dst: str) -> None:
    subprocess.run(["rsync", "-a", "-e", _rsh(keys, port), src, dst], check=True)


def _raw_chain(keys: SshKeys, sites: dict[str, Site], hub: Path, tag: str) -> float:
    a = sites["a"]
    start = time.monotonic()
    _rsync(keys, a.proxy.port, f"{a.login}:{a.sshd.root}/sp/{tag}/", f"{hub}/{tag}/")
    for name in ("b", "c"):
        site = sites[name]
        (site.sshd.root / "raw").mkdir(exist_ok=True)
        _rsync(keys, site.proxy.port, f"{hub}/{tag}/", f"{site.login}:{site.sshd.root}/raw/{tag}/")
    return time.monotonic() - start


def _configure(store: Store, keys: SshKeys, sites: dict[str, Site], hub: Path) -> None:
    for site in sites.values():
        (site.sshd.root / "sp").mkdir(exist_ok=True)
    volumes = {name: site.url("sp") for name, site in sites.items()}
    with store.write() as tx:
        put_production(tx, hub_url=f"{hub}/", keys=keys, volumes=volumes)


def _set_streams(store: Store, streams: int) -> None:
    with store.write() as tx:
        doc = tx.get("rsyncGlobalParameters")
        assert doc is not None
        tx.put({**doc, "parallelStreams": streams})


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


def _connections(keys: SshKeys, site: Site, work_dir: Path, size: int) -> None:
    """4 rsyncs at once: 4 channels of one ControlMaster vs 4 separate connections."""
    src = work_dir / "conn-src"
    src.mkdir(exist_ok=True)
    block = os.urandom(MiB)
    for i in range(8):
        with (src / f"f{i}").open("wb") as fh:
            for _ in range(max(1, size // MiB)):
                fh.write(block)
    total = 8 * max(1, size // MiB)
    shared = work_dir / "ctl-shared"
    separate = [work_dir / f"ctl-{i}" for i in range(4)]
    for control in (shared, *separate):
        control.mkdir(exist_ok=True)
        subprocess.run(  # the masters are up before the runs: only transfers are timed
            [*_rsh(keys, site.proxy.port, control).split(), site.login, "true"], check=True
        )
    runs = {"one ControlMaster, 4 channels": [shared] * 4, "4 separate connections": separate}
    for label, controls in runs.items():
        dest = f"{site.sshd.root}/conn-{controls[1].name}"
        start = time.monotonic()
        procs = []
        for i, control in enumerate(controls):
            files = [str(src / f"f{j}") for j in (i, i + 4)]
            rsh = _rsh(keys, site.proxy.port, control)
            argv = ["rsync", "-a", "-e", rsh, *files, f"{site.login}:{dest}/"]
            procs.append(subprocess.Popen(argv))
        for proc in procs:
            proc.wait()
        took = time.monotonic() - start
        print(f"  {label:30}: {took:7.2f} s  ({total / took:6.1f} MiB/s)", flush=True)
    for control in (shared, *separate):
        subprocess.run(
            [*_rsh(keys, site.proxy.port, control).split(), "-O", "exit", site.login],
            capture_output=True,
            check=False,
        )


def _report(label: str, seconds: float, mib: float, raw: float) -> None:
    print(
        f"  {label:26}: {seconds:8.2f} s  ({mib / seconds:7.1f} MiB/s)  "
        f"time {seconds / raw:5.2f}x, throughput {raw / seconds:5.2f}x the raw chain",
        flush=True,
    )


def main() -> None:
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    rtts = [int(v) for v in os.environ.get("BENCH_WAN_RTT", "100,200").split(",") if v]
    rate = float(os.environ.get("BENCH_WAN_MBIT", "400")) * MBIT
    quick = os.environ.get("BENCH_WAN_QUICK") == "1"
    only = os.environ.get("BENCH_ONLY")
    work_dir = Path(tempfile.mkdtemp(prefix="bench-wan-"))
    keys = SshKeys(work_dir / "keys")
    raw_hub, hub = work_dir / "raw-hub", work_dir / "hub"
    raw_hub.mkdir()
    hub.mkdir()
    store = Store.open(f"sqlite:///{work_dir / 'bench.db'}")
    try:
        with _sites(work_dir, keys, rate) as sites:
            _configure(store, keys, sites, hub)
            print(f"per site: {rate / MBIT:.0f} Mbit/s cap; hub local; sites a -> hub -> b, c")
            for rtt in rtts:
                for site in sites.values():
                    site.proxy.set_delay(rtt / 2000)
                for work in [w for w in _workloads(scale) if not only or w.name == only]:
                    mib = 3 * work.files * work.size / MiB
                    print(
                        f"{rtt} ms RTT, {work.name}: {work.files} files x "
                        f"{work.size // KiB} KiB to hub + 2 sites ({mib:.0f} MiB moved)",
                        flush=True,
                    )
                    tag = f"r{rtt}-{work.name}"
                    _make_tree(sites["a"].sshd.root / "sp", tag, work)
                    raw = _raw_chain(keys, sites, raw_hub, tag)
                    _report("raw rsync -a chain", raw, mib, raw)
                    runs = [4] if quick else [1, 4]
                    for streams in runs:
                        _set_streams(store, streams)
                        ids = _make_tree(sites["a"].sshd.root / "sp", f"{tag}-s{streams}", work)
                        ours = _reconciler(store, ids)
                        _report(f"reconciler, {streams} stream(s)", ours, mib, raw)
            if not quick:
                for site in sites.values():
                    site.proxy.set_delay(rtts[0] / 2000)
                print(f"4 parallel rsyncs to one site at {rtts[0]} ms RTT (connection choice):")
                _connections(keys, sites["b"], work_dir, max(MiB, int(32 * MiB * scale)))
    finally:
        store.close()
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
