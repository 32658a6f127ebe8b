"""Run every benchmark module (`python -m tests.bench [name ...]`), each printing its ratios.

Modules are `tests/bench/bench_*.py` with a `main()`; sizes are reduced with BENCH_* variables
documented in each module.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import tests.bench as package


def main(argv: list[str]) -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("bench_")
    )
    chosen = [n for n in names if not argv or any(a in n for a in argv)]
    failed = 0
    for name in chosen:
        print(f"=== {name}", flush=True)
        start = time.monotonic()
        try:
            importlib.import_module(f"tests.bench.{name}").main()
        except Exception as exc:  # one broken benchmark must not hide the others
            failed += 1
            print(f"{name} failed: {type(exc).__name__}: {exc}", flush=True)
        print(f"=== {name} took {time.monotonic() - start:.1f}s\n", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
