"""Benchmark: `spctl diff --impact` (issue 17) on a store of 1,000,000 files x 8 sites.

The store (SQLite; PostgreSQL when BENCH_PG or SPCTL_TEST_PG names a server: a scratch
database) holds the hub and 7 volumes, SyncTargets like the production manifests and
BENCH_FILES files (default 1,000,000) spread over eight top-level folders, filled through
the store's bulk path (`reconciler.store.bulk`). Then `applier.diff_impact` is timed, as
`spctl diff --impact --db` runs it, for three changes:
- `renders +site`: a SyncTarget gains a site (`/renders/**`: an eighth of the files);
- `*.exr target`: a new SyncTarget with an unanchored pattern (every id is read, the
  quarter of the files it matches are evaluated);
- `global default`: the global syncEverywhere flips (every file is evaluated).
Reference, same run: a bare read of the same documents (SQL and JSON decoding, no rules).
Goal: a SyncTarget change under 5 s at 1,000,000 files.

Sizes: BENCH_FILES (default 1000000, times `--scale`), BENCH_ROUNDS (3: median);
BENCH_STORES=sqlite or postgresql runs one store only (two processes can then share the
machine's cores).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from reconciler.core.passwords import Passwords
from reconciler.services import applier
from reconciler.services.manifests import Manifest, load
from reconciler.store import Store
from reconciler.store.bulk import insert_new_files
from tests.bench import median_seconds, scaled, stores

FILES = scaled("BENCH_FILES", 1_000_000)
ROUNDS = int(os.environ.get("BENCH_ROUNDS") or 3)
VOLUMES = ["paris", "london", "montreal", "tokyo", "berlin", "madrid", "rome"]
FOLDERS = ["assets", "renders", "comp", "editorial", "sound", "shots", "layout", "fx"]
T0 = 1_700_000_000_000
BATCH = 20_000

BASE = """
apiVersion: syncplanet.io/v1
kind: GlobalParameters
metadata: {name: rsyncGlobalParameters}
spec: {syncEverywhere: %(everywhere)s}
---
apiVersion: syncplanet.io/v1
kind: Hub
metadata: {name: hub}
spec: {url: /srv/hub/}
%(volumes)s
---
apiVersion: syncplanet.io/v1
kind: SyncTarget
metadata: {name: assets}
spec: {paths: ["/assets/**"], everywhere: true, priority: 10}
---
apiVersion: syncplanet.io/v1
kind: SyncTarget
metadata: {name: renders}
spec: {paths: ["/renders/**"], exclude: ["*.tmp"], sites: %(renders)s, priority: 5}
---
apiVersion: syncplanet.io/v1
kind: SyncTarget
metadata: {name: editorial}
spec: {paths: ["/editorial/**", "/sound/**"], sites: [paris]}
---
apiVersion: syncplanet.io/v1
kind: SyncTarget
metadata: {name: caches}
spec: {paths: ["**/cache/**"], excludeSites: [paris, london, montreal]}
%(extra)s
"""
EXR = """---
apiVersion: syncplanet.io/v1
kind: SyncTarget
metadata: {name: exr}
spec: {paths: ["*.exr"], sites: [tokyo], priority: 2}
"""


def tree(
    directory: Path, name: str, *, renders: str = "[paris, london]", everywhere: str = "false",
    extra: str = "",
) -> list[Manifest]:  # fmt: skip
    volumes = "".join(
        f"---\napiVersion: syncplanet.io/v1\nkind: Volume\nmetadata: {{name: {v}}}\n"
        f"spec: {{url: /srv/{v}/}}\n"
        for v in VOLUMES
    )
    path = directory / f"{name}.yaml"
    values = {"volumes": volumes, "renders": renders, "everywhere": everywhere, "extra": extra}
    path.write_text(BASE % values)
    return load(path, env={}, variables={})


def file_doc(i: int) -> dict[str, Any]:
    folder = FOLDERS[i % len(FOLDERS)]
    ext = "exr" if folder in ("renders", "comp") else "dat"
    origin = VOLUMES[i % 3]
    t = T0 - (i % 64) * 1000  # few distinct times: the bulk path derives rows once per shape
    doc: dict[str, Any] = {
        "_id": f"/{folder}/seq{i // 8000:04d}/f{i:07d}.{ext}",
        "origin": origin,
        "author": "support",
        "time": t,
        "comment": f"scanned at {origin}",
        "file_size": 1_000_000 + i % 5000,
        "file_mtime": t,
        "synced_hub": t,
        f"synced_{origin}": t,
    }
    for n, site in enumerate(VOLUMES):  # most copies delivered, some outdated or missing
        state = (i + n) % 10
        if site != origin and state:
            doc[f"synced_{site}"] = t if state > 1 else t - 5000
    if i % 50 == 0:
        doc["sync_priority"] = i % 7
    if i % 97 == 0:
        doc["sync_tokyo"] = True
    return doc


def build(store: Store, directory: Path) -> None:
    start = time.monotonic()
    applier.apply(store, tree(directory, "base"), dry_run=False, prune=False, now=T0,
                  author="bench", passwords=Passwords())  # fmt: skip
    for first in range(0, FILES, BATCH):
        with store.write() as tx:
            insert_new_files(tx, [file_doc(i) for i in range(first, min(FILES, first + BATCH))])
        done = min(FILES, first + BATCH)
        rate = done / (time.monotonic() - start)
        print(f"\r  built {done:,} files ({rate:,.0f} files/s)", end="", flush=True)
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if store.dialect == "postgresql" else "ANALYZE")
    print(f"\n  {FILES:,} files x {len(VOLUMES) + 1} sites in {time.monotonic() - start:.0f}s")


def bare_read(store: Store, where: str, params: dict[str, Any]) -> Callable[[], int]:
    """The reference: read and decode the same documents, nothing else."""
    column = "CAST(doc AS text)" if store.dialect == "postgresql" else "doc"
    query = sa.text(f"SELECT id, {column} FROM nodes WHERE kind = 'file' {where}")

    def run() -> int:
        with store.read() as tx:
            return sum(1 for _, doc in tx.conn.execute(query, params) if json.loads(doc))

    return run


def run(label: str, url: str) -> None:
    store = Store.open(url)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-impact-") as tmp:
            directory = Path(tmp)
            build(store, directory)
            exr = "AND (id LIKE '/renders/%' OR id LIKE '/comp/%')"
            cases = [
                ("renders +site", tree(directory, "a", renders="[paris, london, tokyo]"),
                 "AND id LIKE '/renders/%'", ROUNDS),
                ("*.exr target", tree(directory, "b", extra=EXR), exr, ROUNDS),
                ("global default", tree(directory, "c", everywhere="true"), "", 1),
            ]  # fmt: skip
            for name, manifests, where, rounds in cases:
                found: list[Any] = []

                def impact(m: list[Manifest] = manifests, out: list[Any] = found) -> None:
                    out[:] = [applier.diff_impact(store, m, prune=False, now=T0)[1]]

                seconds = median_seconds(impact, rounds)
                bare = median_seconds(bare_read(store, where, {}), 1)
                result = found[0]
                moved = sum(s.newly_wanted.bytes for s in result.sites)
                print(f"{label}: {name}: {seconds:.2f} s (median of {rounds}), "
                      f"{result.evaluated:,} files evaluated, {len(result.sites)} sites "
                      f"affected, {moved / 1e9:.1f} GB newly wanted; bare read of those "
                      f"documents {bare:.2f} s; ratio {seconds / bare:.2f}")  # fmt: skip
    finally:
        store.close()


def main() -> None:
    for label, url in stores("bench-impact-db-"):
        run(label, url)


if __name__ == "__main__":
    main()
