"""`spctl diff --impact` predicts what the store plans once the change is applied.

Data-driven: one tree of manifests and ~250 files covering the four destination levels
(per-file `sync_<site>`, per-file `syncEverywhere`, SyncTargets, the global default),
priorities, up-to-date / outdated / missing copies, files not yet on the hub and deleted
files; then one case per kind of change. For each case the impact computed before `apply`
must equal, site by site (files and bytes), what the store's derived rows and the
reconciler's reception queue say after it. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from reconciler.core.desired import decide
from reconciler.services import applier
from reconciler.services.impact import Amount, Impact
from reconciler.store import Store
from reconciler.store.queue import reception_queue
from reconciler.store.schema import file_sites
from tests.manifests.helpers import CHEAP, read

Tree = dict[str, dict[str, Any]]  # "Kind/name" -> spec
NOW = 1_700_000_000_000

BASE: Tree = {
    "GlobalParameters/rsyncGlobalParameters": {"syncEverywhere": False},
    "Hub/hub": {"url": "/srv/hub/"},
    "Volume/paris": {"url": "/srv/paris/"},
    "Volume/london": {"url": "/srv/london/"},
    "Volume/montreal": {"url": "/srv/montreal/"},
    "Volume/oslo": {"url": "/srv/oslo/", "enableReception": False},
    "SyncTarget/assets": {"paths": ["/assets/**"], "everywhere": True, "priority": 10},
    "SyncTarget/renders": {
        "paths": ["/renders/**"],
        "exclude": ["*.tmp"],
        "sites": ["paris", "london"],
        "priority": 5,
    },
    "SyncTarget/editorial": {"paths": ["/editorial/**", "/sound/**"], "sites": ["paris"]},
    "SyncTarget/caches": {"paths": ["**/cache/**"], "excludeSites": ["paris", "london"]},
}

PATHS = [
    "/assets/a{i}.ma",
    "/renders/sh{i}/f.exr",
    "/renders/sh{i}/f.tmp",
    "/editorial/cut{i}.mov",
    "/sound/s{i}.wav",
    "/shots/sh{i}/cache/c.bgeo",
    "/comp/c{i}.exr",
    "/misc/m{i}.txt",
    "/pkg{i}/",
]
OWN_KEYS: list[dict[str, Any]] = [
    {},
    {"sync_london": True},
    {"sync_montreal": False, "sync_paris": True},
    {"syncEverywhere": True},
    {"syncEverywhere": False},
    {"sync_priority": 3},
    {"sync_paris": False, "sync_priority": -1},
    {"deleted": True},
    {},
    {"sync_tokyo": True},  # a site that does not exist yet
]
ORIGINS = ["paris", "london", "montreal", "oslo"]
SITES = ["paris", "london", "montreal", "oslo", "tokyo"]


def file_doc(i: int) -> dict[str, Any]:
    origin = ORIGINS[i % len(ORIGINS)]
    time = NOW - i * 1000
    doc: dict[str, Any] = {
        "_id": PATHS[i % len(PATHS)].format(i=i),
        "origin": origin,
        "time": time,
        "file_size": 1000 * i + 7,
        f"synced_{origin}": time,
        **OWN_KEYS[(i // len(PATHS)) % len(OWN_KEYS)],
    }
    if i % 11 != 3:  # a few not on the hub yet: pending but not ready on the volumes
        doc["synced_hub"] = time
    for n, site in enumerate(SITES):
        copy_state = (i // 3 + n) % 4  # 0: missing, 1: outdated, 2-3: up to date
        if site != origin and copy_state:
            doc[f"synced_{site}"] = time - 5000 if copy_state == 1 else time + 10
    return doc


FILES = [file_doc(i) for i in range(270)]


def edit(*changes: Callable[[Tree], None]) -> Callable[[], Tree]:
    def make() -> Tree:
        tree = copy.deepcopy(BASE)
        for change in changes:
            change(tree)
        return tree

    return make


def setitem(ref: str, key: str, value: Any) -> Callable[[Tree], None]:
    return lambda tree: tree[ref].__setitem__(key, value)


def drop(ref: str) -> Callable[[Tree], None]:
    return lambda tree: tree.__delitem__(ref)


def add(ref: str, spec: dict[str, Any]) -> Callable[[Tree], None]:
    return lambda tree: tree.__setitem__(ref, spec)


# (case, new tree, prune, sites the impact must name at least)
CASES = [
    ("synctarget gains a site", edit(setitem("SyncTarget/renders", "sites", ["paris", "london", "montreal"])), False, {"montreal"}),  # noqa: E501
    ("synctarget paths widened", edit(setitem("SyncTarget/renders", "paths", ["/renders/**", "/comp/**"])), False, {"paris", "london"}),  # noqa: E501
    ("synctarget removed", edit(drop("SyncTarget/editorial")), True, {"paris"}),
    ("synctarget added with priority", edit(add("SyncTarget/misc", {"paths": ["/misc/**"], "everywhere": True, "priority": 7})), False, {"paris", "london", "montreal", "hub"}),  # noqa: E501
    ("excludeSites added", edit(setitem("SyncTarget/assets", "excludeSites", ["london"])), False, {"london"}),  # noqa: E501
    ("priorities changed", edit(setitem("SyncTarget/assets", "priority", 2), setitem("SyncTarget/renders", "priority", 12)), False, {"paris", "london", "montreal", "hub"}),  # noqa: E501
    ("unanchored synctarget", edit(add("SyncTarget/exr", {"paths": ["*.exr"], "sites": ["montreal"], "priority": 1})), False, {"montreal", "hub"}),  # noqa: E501
    ("global default on", edit(setitem("GlobalParameters/rsyncGlobalParameters", "syncEverywhere", True)), False, {"paris", "london", "montreal"}),  # noqa: E501
    ("reception disabled", edit(setitem("Volume/montreal", "enableReception", False)), False, {"montreal"}),  # noqa: E501
    ("reception enabled", edit(setitem("Volume/oslo", "enableReception", True)), False, {"oslo"}),
    ("site added", edit(add("Volume/tokyo", {"url": "/srv/tokyo/"})), False, {"tokyo"}),
    ("site removed", edit(drop("Volume/london"), setitem("SyncTarget/renders", "sites", ["paris"]), setitem("SyncTarget/caches", "excludeSites", ["paris"])), True, {"london"}),  # noqa: E501
    ("no change", edit(), False, set()),
]  # fmt: skip


def write_tree(tree: Tree, path: Path) -> Path:
    docs = []
    for ref, spec in tree.items():
        kind, name = ref.split("/")
        docs.append(
            {
                "apiVersion": "syncplanet.io/v1",
                "kind": kind,
                "metadata": {"name": name},
                "spec": spec,
            }
        )
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


Rows = dict[str, dict[str, tuple[int, int, int, int]]]  # site -> file -> wanted, pending, ...


def rows(store: Store) -> Rows:
    c = file_sites.c
    out: Rows = {}
    with store.read() as tx:
        query = sa.select(c.site, c.file_id, c.wanted, c.pending, c.priority, c.size)
        for site, file_id, wanted, pending, priority, size in tx.conn.execute(query):
            out.setdefault(site, {})[file_id] = (wanted, pending, priority, size)
    return out


def expected(before: Rows, after: Rows) -> dict[str, tuple[Amount, Amount, Amount, Amount]]:
    """Per site, from the rows the store derived: newly pending, no longer wanted, up, down."""
    out = {}
    none = (0, 0, 0, 0)
    for site in {*before, *after}:
        tally = [Amount()] * 4
        old, new = before.get(site, {}), after.get(site, {})
        for file_id in {*old, *new}:
            was, now = old.get(file_id, none), new.get(file_id, none)
            size = Amount(1, (was if file_id in old else now)[3])
            if now[1] and not was[1]:
                tally[0] += size
            if was[0] and not now[0]:
                tally[1] += size
            if was[1] and now[1] and was[2] != now[2]:
                tally[2 if now[2] > was[2] else 3] += size
        if any(a.files for a in tally):
            out[site] = (tally[0], tally[1], tally[2], tally[3])
    return out


def found(impact: Impact) -> dict[str, tuple[Amount, Amount, Amount, Amount]]:
    return {
        s.site: (s.newly_wanted, s.no_longer_wanted, s.priority_up, s.priority_down)
        for s in impact.sites
    }


def ready_queue(store: Store, sites: set[str]) -> dict[str, set[str]]:
    with store.read() as tx:
        return {
            s: {i.file_id for i in reception_queue(tx, s, 10**6, NOW, honour_backoff=False)}
            for s in sites
        }


@pytest.fixture
def base_store(store: Store, tmp_path: Path) -> Store:
    applier.apply(
        store, read(write_tree(BASE, tmp_path / "base.yaml")), dry_run=False, prune=False,
        now=NOW, author="tester", passwords=CHEAP,
    )  # fmt: skip
    with store.write() as tx:
        tx.insert_many(FILES)
    return store


def test_the_files_exercise_every_destination_level(base_store: Store) -> None:
    with base_store.read() as tx:
        cfg = tx.config()
    rules = {decide(f, v, cfg).rule.split(" ")[0] for f in FILES for v in cfg.volumes.values()}
    assert {"per-file", "synctarget/assets", "global", "volume", "origin:", "deleted:"} <= rules
    assert any(decide(f, cfg.volumes["paris"], cfg).rule.startswith("per-file key syncEv")
               for f in FILES)  # fmt: skip


@pytest.mark.parametrize(("case", "make", "prune", "sites"), CASES, ids=[c[0] for c in CASES])
def test_impact_equals_what_the_store_plans_after_apply(
    base_store: Store,
    tmp_path: Path,
    case: str,
    make: Callable[[], Tree],
    prune: bool,
    sites: set[str],
) -> None:
    store = base_store
    manifests = read(write_tree(make(), tmp_path / "new.yaml"))
    outcomes, impact = applier.diff_impact(store, manifests, prune=prune, now=NOW, passwords=CHEAP)
    assert bool(outcomes) is (case != "no change")
    before = rows(store)
    volumes = {s for s in SITES if s != "tokyo"}
    queue_before = ready_queue(store, volumes)
    applier.apply(
        store, manifests, dry_run=False, prune=prune, now=NOW + 1, author="tester",
        passwords=CHEAP,
    )  # fmt: skip
    after = rows(store)
    want = expected(before, after)
    assert found(impact) == want
    assert sites <= set(want) and bool(want) is bool(sites)  # the case moves something
    assert impact.evaluated <= len(FILES)
    # the reconciler's reception queue after apply holds every newly wanted file whose hub
    # copy is ready, and held none of them before
    queue_after = ready_queue(store, volumes | {"tokyo"})
    for site in volumes | {"tokyo"}:
        newly = {f for f, r in after.get(site, {}).items() if r[1]} - {
            f for f, r in before.get(site, {}).items() if r[1]
        }
        hub_ready = {f["_id"] for f in FILES if "synced_hub" in f}
        assert newly & hub_ready <= queue_after[site]
        assert not newly & queue_before.get(site, set())
    # applied: a second look finds nothing left to move
    _, again = applier.diff_impact(store, manifests, prune=prune, now=NOW, passwords=CHEAP)
    assert again.sites == ()


def test_a_synctarget_change_reads_only_the_files_its_patterns_can_match(
    base_store: Store, tmp_path: Path
) -> None:
    tree = edit(setitem("SyncTarget/renders", "sites", ["paris", "london", "montreal"]))()
    manifests = read(write_tree(tree, tmp_path / "new.yaml"))
    _, impact = applier.diff_impact(base_store, manifests, prune=False, now=NOW, passwords=CHEAP)
    renders = [f for f in FILES if f["_id"].startswith("/renders/")]  # *.tmp excluded, read
    assert impact.evaluated == len(renders)
