"""Benchmarks (`make bench`): not tests. Each module compares against a physical reference."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def scale() -> float:
    """`--scale X` of `python -m tests.bench` (BENCH_SCALE): a factor on every default size."""
    return float(os.environ.get("BENCH_SCALE") or 1)


def scaled(name: str, default: int) -> int:
    """A size: the variable `name` when set, else `default` times the scale (at least 1)."""
    value = os.environ.get(name)
    return int(value) if value else max(1, round(default * scale()))


def write_sized(path: Path, size: int, block: bytes) -> None:
    """A file of `size` bytes made of `block` repeated (its parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        left = size
        while left > 0:
            fh.write(block[:left] if left < len(block) else block)
            left -= len(block)


def median_seconds(func: Callable[[], object], rounds: int, *, warm_up: bool = False) -> float:
    """Median wall time of `rounds` calls of `func` (after one untimed call with `warm_up`)."""
    if warm_up:
        func()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def stores(prefix: str) -> Iterator[tuple[str, str]]:
    """("sqlite", URL of a fresh file), then ("postgresql", URL of a scratch database on the
    BENCH_PG or SPCTL_TEST_PG server; skipped, saying so, when neither is set); each one
    lives until the next is asked for. BENCH_STORES=sqlite or =postgresql picks one."""
    from tests.support import pg  # SQLAlchemy: only for the benches that use a store

    chosen = (os.environ.get("BENCH_STORES") or "sqlite,postgresql").split(",")
    if "sqlite" in chosen:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            yield "sqlite", f"sqlite:///{Path(tmp) / 'store.db'}"
    if not any(name.startswith("postgres") for name in chosen):  # bench_api says "postgres"
        return
    server = os.environ.get("BENCH_PG") or pg.server_url()
    if not server:
        print("postgresql: skipped (set BENCH_PG or SPCTL_TEST_PG)")
        return
    os.environ.setdefault(pg.ENV, server)
    with pg.scratch_database() as url:
        yield "postgresql", url
