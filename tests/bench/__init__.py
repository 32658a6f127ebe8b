"""Benchmarks (`make bench`): not tests. Each module compares against a physical reference."""

from __future__ import annotations

import os


def scale() -> float:
    """`--scale X` of `python -m tests.bench` (BENCH_SCALE): a factor on every default size."""
    return float(os.environ.get("BENCH_SCALE") or 1)


def scaled(name: str, default: int) -> int:
    """A size: the variable `name` when set, else `default` times the scale (at least 1)."""
    value = os.environ.get(name)
    return int(value) if value else max(1, round(default * scale()))
