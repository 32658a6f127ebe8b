"""`python -m tests.bench [--only NAME] [--scale X] [NAME ...]`: run the benchmarks.

Modules are `tests/bench/bench_*.py` with a `main()`, each printing its ratios against a
reference measured in the same run. `--scale 0.1` divides the default sizes by ten (a quick
look; BENCH_SCALE for the modules); the BENCH_* variables documented in each module still
set one size exactly. `--only wan` runs the transfers across a simulated ocean
(`bench_wan`: 100 and 200 ms RTT, about 20 minutes at scale 1; `--scale 0.25` for a look).
`--only scaleout` runs 1, 2 and 4 reconciler workers and 1 and 2 API processes on
PostgreSQL (`bench_scaleout`, SPCTL_TEST_PG or BENCH_PG; about 5 minutes at scale 1).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import time

import tests.bench as package


def available() -> list[str]:
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules(package.__path__)
        if m.name.startswith("bench_")
    )


def parse(argv: list[str]) -> argparse.Namespace:
    names = available()
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="SyncPlanet benchmarks (not tests): each prints ratios against a "
        "reference measured in the same run.",
        epilog="benchmarks: " + ", ".join(names),
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default all)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this benchmark (repeat, or separate with commas)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="factor on the default sizes (0.1 = a quick run); sets BENCH_SCALE",
    )
    parser.add_argument(
        "--disk",
        action="store_true",
        help="transfer trees on the shared disk instead of tmpfs (/dev/shm); sets BENCH_DISK",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    wanted = [*args.names, *(n for item in args.only for n in item.split(",") if n)]
    unknown = [w for w in wanted if not any(w in n for n in names)]
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)} (choose from {', '.join(names)})")
    if args.scale is not None and args.scale <= 0:
        parser.error("--scale must be positive")
    args.chosen = [n for n in names if not wanted or any(w in n for w in wanted)]
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.list:
        print("\n".join(args.chosen))
        return 0
    if args.scale is not None:
        os.environ["BENCH_SCALE"] = str(args.scale)
    if args.disk:
        os.environ["BENCH_DISK"] = "1"
    failed = 0
    for name in args.chosen:
        print(f"=== bench_{name}", flush=True)
        start = time.monotonic()
        try:
            importlib.import_module(f"tests.bench.bench_{name}").main()
        except Exception as exc:  # one broken benchmark must not hide the others
            failed += 1
            print(f"bench_{name} failed: {type(exc).__name__}: {exc}", flush=True)
        print(f"=== bench_{name} took {time.monotonic() - start:.1f}s\n", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
