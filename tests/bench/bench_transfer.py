"""Benchmark: the product as a user runs it against the raw rsync chain, same loopback sshds.

Two workloads, each published at site A and delivered to the hub and sites B and C:
- 10,000 files of 4 KiB (small-file throughput: the product's per-file cost decides);
- 20 files of 100 MiB (streaming throughput).
Reference: `rsync -a` of the same tree A -> hub, hub -> B, hub -> C, one after the other.
Product: from the first `POST /api/publish/` to a running `spctl serve` (uvicorn, its own
process, pages of 1,000 files) to the exit of `spctl reconcile --once` (its own process: CLI
start-up, store opening, emission, then the receptions of B and C), checked afterwards: every
copy `synced_` on the hub, B and C.

Each round measures both, in alternating order (raw first on even rounds), with a fresh id
prefix; the median of the per-round product/raw ratios is printed with every round's
figures, because on a shared 2-core machine only a same-round comparison means anything.
For the big files the CPU time of the product's own Python process per GiB delivered is
printed too (its threads, not the rsync/ssh children it runs).

The trees live on tmpfs (/dev/shm) so that storage does not hide the product's cost;
`--disk` (BENCH_DISK=1) puts them on the shared disk (the system temporary directory).
Environment: BENCH_SCALE multiplies the file counts and the big file size; BENCH_ROUNDS
(default 3); BENCH_AMOUNT overrides `syncAmountEmission/Reception`, BENCH_STREAMS the
global `parallelStreams`; BENCH_ONLY=small|big
runs one workload; BENCH_KEEP=1 keeps the working directory; BENCH_PYSPY=DIR records each
reconcile process with py-spy (collapsed stacks in DIR, `py-spy` on the PATH); BENCH_LOG=DIR
keeps each reconcile process's log at level info (one line per batch) in DIR.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from reconciler.core.domain import synced_key
from reconciler.store import Store
from tests.bench import scale, scaled, write_sized
from tests.support.production import put_production
from tests.support.servers import free_port, server_process
from tests.support.sshd import SshKeys, SshSite, client_options

KiB, MiB, GiB = 1024, 1024**2, 1024**3
ORIGIN, RECEIVERS = "paris", ("lyon", "nice")  # site A, sites B and C
PAGE = 1000  # files per publish request
PASSWORD = "bench-password-1"
# `spctl` as its console script runs it, plus the process's own CPU time written at exit
# (threads included; rsync/ssh children excluded) for the CPU-per-GiB figure.
SPCTL = (
    "import atexit, json, os, resource, sys\n"
    "def _cpu():\n"
    "    u = resource.getrusage(resource.RUSAGE_SELF)\n"
    "    c = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "    with open(os.environ['BENCH_CPU_OUT'], 'w') as fh:\n"
    "        json.dump({'self': u.ru_utime + u.ru_stime,"
    " 'children': c.ru_utime + c.ru_stime}, fh)\n"
    "if os.environ.get('BENCH_CPU_OUT'): atexit.register(_cpu)\n"
    "from spctl import main\n"
    "sys.exit(main())\n"
)


@dataclass(frozen=True)
class Workload:
    name: str
    files: int
    size: int


@dataclass(frozen=True)
class Bench:
    work: Path
    keys: SshKeys
    sites: dict[str, SshSite]
    hub: Path
    raw_hub: Path
    db_url: str
    api: str
    token: str
    env: dict[str, str]
    pids: tuple[int, ...] = ()  # the sshds and the tracker: their CPU counts (`_cpu_seconds`)


def _workloads() -> list[Workload]:
    return [
        Workload("small", scaled("BENCH_SMALL_FILES", 10_000), 4 * KiB),
        Workload("big", 20, max(MiB, int(100 * MiB * scale()))),
    ]


def _make_tree(root: Path, work: Workload) -> list[str]:
    """The files under `root`/`work.name`/; their ids relative to `root`."""
    rels = []
    block = os.urandom(min(work.size, 4 * MiB))
    for i in range(work.files):
        rel = f"{work.name}/d{i // 500:03d}/f{i:06d}.bin"
        write_sized(root / rel, work.size, block)
        rels.append(rel)
    return rels


def _rsync(keys: SshKeys, port: int, src: str, dst: str) -> None:
    rsh = " ".join(["ssh", *client_options(keys), "-p", str(port)])
    subprocess.run(["rsync", "-a", "-e", rsh, src, dst], check=True)


def _proc_cpu(pid: int) -> float:
    """CPU seconds of process `pid` and of the children it has reaped (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(b: Bench) -> tuple[float, float, float]:
    """CPU seconds used so far by everything a transfer runs: this process's children (the
    raw rsync/ssh, the reconcile process with its own), the sshds' sessions (the remote
    rsyncs), the tracker. Each sshd's sessions are waited for first (up to 5 s): a session
    counts once the daemon has reaped it. Robust to load where wall times are not.
    Returned apart: (this process's children, the tracker, the sshds)."""
    for pid in b.pids:
        children = Path(f"/proc/{pid}/task/{pid}/children")
        deadline = time.monotonic() + 5
        while children.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.05)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    tracker, *sshds = b.pids
    return (
        usage.ru_utime + usage.ru_stime,
        _proc_cpu(tracker),
        sum(_proc_cpu(pid) for pid in sshds),
    )


def _cpu_since(b: Bench, before: tuple[float, float, float]) -> tuple[float, float, float]:
    return tuple(now - was for now, was in zip(_cpu_seconds(b), before, strict=True))  # type: ignore[return-value]


def _raw_chain(b: Bench, sub: str) -> tuple[float, float]:
    """A -> hub, then hub -> B and hub -> C, one after the other; copies removed after.
    Seconds and CPU seconds."""
    a = b.sites[ORIGIN]
    before = _cpu_seconds(b)
    start = time.monotonic()
    _rsync(b.keys, a.port, f"{a.user}@127.0.0.1:{a.root}/sp/{sub}/", f"{b.raw_hub}/{sub}/")
    for name in RECEIVERS:
        site = b.sites[name]
        (site.root / "raw").mkdir(exist_ok=True)
        _rsync(b.keys, site.port, f"{b.raw_hub}/{sub}/", f"{site.user}@127.0.0.1:{site.root}/raw/")
    elapsed = time.monotonic() - start
    cpu = sum(_cpu_since(b, before))
    shutil.rmtree(b.raw_hub / sub)
    for name in RECEIVERS:
        shutil.rmtree(b.sites[name].root / "raw")
    return elapsed, cpu


def _publish(b: Bench, ids: list[str]) -> None:
    headers = {"Authorization": f"Bearer {b.token}"}
    with httpx.Client(base_url=b.api, headers=headers, timeout=600) as client:
        for at in range(0, len(ids), PAGE):
            body = [{"_id": i, "origin": ORIGIN, "comment": "bench"} for i in ids[at : at + PAGE]]
            reply = client.post("/api/publish/", json=body)
            if reply.status_code != 201:
                raise RuntimeError(f"publish: HTTP {reply.status_code} {reply.text[:200]}")


def _product(
    b: Bench, sub: str, ids: list[str]
) -> tuple[float, float, float, float, tuple[float, float, float]]:
    """Seconds from the first publish to the end of `spctl reconcile --once`, of the
    publish alone, the CPU seconds of the reconcile process (own, its children), and of
    everything (`_cpu_seconds`: local processes, tracker, sshds)."""
    cpu_out = b.work / "cpu.json"
    env = {**b.env, "BENCH_CPU_OUT": str(cpu_out)}
    before = _cpu_seconds(b)
    start = time.monotonic()
    _publish(b, ids)
    published = time.monotonic() - start
    run = subprocess.run(
        [
            *_profiler(b, sub),
            sys.executable,
            "-c",
            SPCTL,
            "reconcile",
            "--once",
            "--log-level",
            "info" if os.environ.get("BENCH_LOG") else "warning",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.monotonic() - start
    total = _cpu_since(b, before)
    if os.environ.get("BENCH_LOG"):
        (Path(os.environ["BENCH_LOG"]) / f"reconcile-{sub}.log").write_text(run.stderr)
    if run.returncode != 0:
        raise RuntimeError(f"spctl reconcile --once exited {run.returncode}: {run.stderr[-800:]}")
    store = Store.open(b.db_url)
    try:
        with store.read() as tx:
            docs = [d for d in tx.get_many(ids) if d is not None]
    finally:
        store.close()
    missing = [d["_id"] for d in docs for s in ("hub", *RECEIVERS) if synced_key(s) not in d]
    if missing or len(docs) != len(ids):
        raise RuntimeError(f"the product did not converge: {len(missing)} copies missing")
    for root in (b.hub, *(b.sites[n].root / "sp" for n in RECEIVERS)):
        shutil.rmtree(root / sub, ignore_errors=True)
    cpu = json.loads(cpu_out.read_text())
    return elapsed, published, cpu["self"], cpu["children"], total


def _profiler(b: Bench, sub: str) -> list[str]:
    """`py-spy record` in front of the reconcile process when BENCH_PYSPY names a directory
    (collapsed stacks, one file per round; the profiler's overhead inflates that round)."""
    out = os.environ.get("BENCH_PYSPY")
    if not out:
        return []
    path = Path(out) / f"reconcile-{sub}.txt"
    return ["py-spy", "record", "--format", "raw", "--rate", "250", "-o", str(path), "--"]


def _configure(b: Bench) -> None:
    amount = os.environ.get("BENCH_AMOUNT")
    extra = (
        {"syncAmountEmission": int(amount), "syncAmountReception": int(amount)} if amount else {}
    )
    for site in b.sites.values():
        (site.root / "sp").mkdir(exist_ok=True)
    volumes = {name: f"{site.url}sp/" for name, site in b.sites.items()}
    store = Store.open(b.db_url)
    try:
        with store.write() as tx:
            streams = os.environ.get("BENCH_STREAMS")
            put_production(
                tx,
                hub_url=f"{b.hub}/",
                keys=b.keys,
                volumes=volumes,
                volume_keys=extra,
                **({"parallelStreams": int(streams)} if streams else {}),
            )
    finally:
        store.close()


# raw, product, publish, reconcile CPU own, its children; CPU of everything: raw, product
# (local processes, tracker, sshds)
Round = tuple[float, float, float, float, float, float, tuple[float, float, float]]


def _round(b: Bench, work: Workload, rels: list[str], n: int) -> Round:
    """One round: the tree moved to a fresh prefix, raw and product in alternating order."""
    sp = b.sites[ORIGIN].root / "sp"
    sub = f"r{n}"
    (sp / sub).mkdir()
    (sp / work.name).rename(sp / sub / work.name)
    ids = [f"/{sub}/{rel}" for rel in rels]
    if n % 2 == 0:
        raw, raw_cpu = _raw_chain(b, sub)
        product = _product(b, sub, ids)
    else:
        product = _product(b, sub, ids)
        raw, raw_cpu = _raw_chain(b, sub)
    (sp / sub / work.name).rename(sp / work.name)
    (sp / sub).rmdir()
    return (raw, *product[:4], raw_cpu, product[4])


def _report(work: Workload, rounds: list[Round], base: Path) -> None:
    delivered = 3 * work.files * work.size
    mib = delivered / MiB
    print(
        f"{work.name}: {work.files} files x {work.size // KiB} KiB, delivered to hub + 2 sites "
        f"({len(rounds)} rounds, trees on {base})",
        flush=True,
    )
    for i, (raw, ours, published, cpu, children, raw_cpu, all_cpu) in enumerate(rounds):
        order = "raw first" if i % 2 == 0 else "product first"
        print(
            f"  round {i + 1}: raw {raw:6.2f} s ({mib / raw:6.1f} MiB/s)  product {ours:6.2f} s "
            f"({mib / ours:6.1f} MiB/s)  ratio {ours / raw:5.2f}x  [{order}; publish "
            f"{published:.2f} s; reconcile CPU {cpu:.2f} s own, {children:.2f} s rsync/ssh; "
            f"CPU of everything: raw {raw_cpu:.2f} s, product {sum(all_cpu):.2f} s (tracker "
            f"{all_cpu[1]:.2f}, sshd sessions {all_cpu[2]:.2f})]",
            flush=True,
        )
    ratio = statistics.median(r[1] / r[0] for r in rounds)
    print(f"  median product/raw ratio: {ratio:.2f}x (throughput {100 / ratio:.0f}% of the chain)")
    cpu_ratio = statistics.median(sum(r[6]) / r[5] for r in rounds)
    print(f"  median CPU ratio (everything the product ran / the raw chain's): {cpu_ratio:.2f}x")
    if work.name == "big":
        per_gib = statistics.median(r[3] for r in rounds) / (delivered / GiB)
        print(f"  product's own CPU (spctl reconcile process): {per_gib:.2f} s per GiB delivered")


def _start(base: Path) -> Bench:
    work = Path(tempfile.mkdtemp(prefix="bench-transfer-", dir=base))
    keys = SshKeys(work / "keys")
    sites = {n: SshSite(name=n, dir=work / f"site-{n}", keys=keys) for n in (ORIGIN, *RECEIVERS)}
    for site in sites.values():
        site.start()
    (work / "hub").mkdir()
    (work / "raw-hub").mkdir()
    db_url = f"sqlite:///{work / 'bench.db'}"
    home = work / "home"
    home.mkdir()
    env = {
        **os.environ,
        "SPCTL_HOME": str(home),
        "SPCTL_DB": db_url,
        "SPCTL_SECRET": "bench-secret",
        "SPCTL_ADMIN_PASSWORD": PASSWORD,
    }
    return Bench(work, keys, sites, work / "hub", work / "raw-hub", db_url, "", "", env)


def main() -> None:
    base = Path(tempfile.gettempdir() if os.environ.get("BENCH_DISK") else "/dev/shm")
    rounds = max(1, int(os.environ.get("BENCH_ROUNDS") or 3))
    bench = _start(base)
    try:
        _configure(bench)
        port = free_port()
        # `spctl serve` on the bench's store, started as a user starts it
        argv = [sys.executable, "-c", SPCTL, "serve", "--port", str(port), "--log-level", "warning"]
        with server_process(argv, port=port, logs=bench.work, name="serve", env=bench.env) as api:
            signed = httpx.post(
                f"{api.url}/api/signIn", json={"username": "admin", "password": PASSWORD}
            )
            signed.raise_for_status()
            pids = (api.proc.pid, *(s.proc.pid for s in bench.sites.values() if s.proc))
            token = signed.json()["token"]
            bench = Bench(**{**bench.__dict__, "api": api.url, "token": token, "pids": pids})
            only = os.environ.get("BENCH_ONLY")
            for work in [w for w in _workloads() if not only or w.name == only]:
                rels = _make_tree(bench.sites[ORIGIN].root / "sp", work)
                results = [_round(bench, work, rels, n) for n in range(rounds)]
                _report(work, results, base)
                shutil.rmtree(bench.sites[ORIGIN].root / "sp" / work.name)
    finally:
        for site in bench.sites.values():
            site.stop()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(bench.work, ignore_errors=True)


if __name__ == "__main__":
    main()
