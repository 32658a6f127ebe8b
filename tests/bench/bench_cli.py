"""spctl start-up: `spctl get volumes` on a small SQLite store against a bare Python start.

The reference, measured in the same run and alternated with the commands: the same
interpreter running `python3 -c "import typer, sqlite3, yaml"` (what any Typer CLI over
SQLite and YAML pays). Each command runs BENCH_CLI_RUNS times (default 21) as a user runs it
(the `spctl` script of the venv, a fresh process each time); the medians and their ratio to
the reference are printed. Target (issue 14): `get volumes` at most 3x the reference.
The store is the demo's (hub, three volumes, two users, four sync targets) with one file.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REFERENCE = [sys.executable, "-c", "import typer, sqlite3, yaml"]
TARGET_RATIO = 3.0


def spctl() -> list[str]:
    script = Path(sys.executable).parent / "spctl"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from spctl import main; main()"]


def make_store(home: Path) -> str:
    from reconciler.services.demo import setup_demo
    from reconciler.store import Store

    url = f"sqlite:///{home / 'bench.db'}"
    store = Store.open(url)
    try:
        setup_demo(store, home, {})
        with store.write() as tx:
            tx.insert({"_id": "/shots/a.exr", "origin": "paris", "time": 1_700_000_000_000})
    finally:
        store.close()
    return url


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    runs = int(os.environ.get("BENCH_CLI_RUNS") or 21)
    home = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    url = make_store(home)
    env = {**os.environ, "SPCTL_HOME": str(home), "SPCTL_DB": url}
    base = spctl()
    commands = {
        "get volumes": [*base, "get", "volumes"],
        "status": [*base, "status"],
        "describe file": [*base, "describe", "file", "/shots/a.exr"],
        "explain": [*base, "explain", "/shots/a.exr"],
        "--version": [*base, "--version"],
    }
    times: dict[str, list[float]] = {"reference": [], **{name: [] for name in commands}}
    everything = [("reference", REFERENCE), *commands.items()]
    for _, command in everything:
        timed(command, env)  # warm the page cache and .pyc files
    for _ in range(runs):
        for name, command in everything:
            times[name].append(timed(command, env))
    reference = statistics.median(times["reference"])
    print(f"  {runs} runs each, alternated; reference `{' '.join(REFERENCE[1:])}`")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<14} median {median * 1000:6.0f} ms   {median / reference:5.2f}x")
    ratio = statistics.median(times["get volumes"]) / reference
    verdict = "ok" if ratio <= TARGET_RATIO else "over"
    print(f"  spctl get volumes / reference: {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict})")
