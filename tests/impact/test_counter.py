"""The pure half of the impact: shapes, scope, sizes, ETA, the throughput a reception adds.

Generated documents and configurations check the two shortcuts `reconciler.services.impact` takes
against the plain rules: sharing one `site_rows` evaluation among documents of one shape,
and reading only the files `scope` names.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from reconciler.core.config import SyncConfig
from reconciler.core.desired import site_rows
from reconciler.core.domain import RECEIVED_BYTES_KEY, RECEPTION_SECONDS_KEY, Direction
from reconciler.core.humanize import eta_text
from reconciler.core.patterns import any_match, any_matcher, compile_glob, literal_prefix
from reconciler.core.planning import volume_status
from reconciler.services.impact import (
    Amount,
    Impact,
    ImpactCounter,
    SiteImpact,
    impact_from_json,
    parse_size,
    scope,
    throughput,
)
from spctl.diff_view import impact_table

SITES = ["paris", "london", "tokyo"]
FOLDERS = ["/renders", "/assets", "/comp", "/renders2", "/a", "/cache"]
PATTERNS = ["/renders/**", "*.exr", "/assets/**", "**/cache/**", "/comp/*.nk", "/a", "/r*/"]


def config(rng: random.Random) -> SyncConfig:
    docs: list[dict[str, Any]] = [
        {"_id": "rsyncGlobalParameters", "syncEverywhere": rng.random() < 0.5},
        {"_id": "hub/hub", "url": "/h/"},
    ]
    for site in SITES:
        if rng.random() < 0.85:
            docs.append({"_id": f"volume/{site}", "url": f"/{site}/",
                         "enableReception": rng.random() < 0.8})  # fmt: skip
    for n in range(rng.randint(0, 3)):
        target: dict[str, Any] = {
            "_id": f"synctarget/t{n}",
            "paths": rng.sample(PATTERNS, rng.randint(1, 2)),
            "priority": rng.randint(-2, 5),
            "excludeSites": rng.sample(SITES, rng.randint(0, 1)),
        }
        if rng.random() < 0.3:
            target["everywhere"] = True
        else:
            target["sites"] = rng.sample(SITES, rng.randint(0, 2))
        if rng.random() < 0.3:
            target["exclude"] = ["*.tmp"]
        docs.append(target)
    return SyncConfig.from_docs(docs)


ODD_VALUES: list[Any] = [True, False, 1, 0, "yes", None, [1], {"a": 1}, 2.5]


def document(rng: random.Random, i: int) -> dict[str, Any]:
    folder = rng.choice(FOLDERS)
    name = rng.choice(["x.exr", "y.tmp", "cache/z.bgeo", "p.nk", "pkg/"])
    time = rng.choice([1000, 2000, 2000.5, "soon", None])
    doc: dict[str, Any] = {
        "_id": f"{folder}/{i}/{name}",
        "origin": rng.choice([*SITES, None, 7]),
        "time": time,
        "file_size": rng.choice([0, 10, 1000 + i, "big", None, 3.5]),
    }
    for site in [*SITES, "hub"]:
        if rng.random() < 0.6:
            doc[f"synced_{site}"] = rng.choice([999, 1000, 2000, 2001, "x", True, 2000.25])
        if rng.random() < 0.2:
            doc[f"sync_{site}"] = rng.choice(ODD_VALUES)
    for key in ("syncEverywhere", "sync_priority", "deleted"):
        if rng.random() < 0.2:
            doc[key] = rng.choice([*ODD_VALUES, 3, -1])
    return doc


class Unshared(ImpactCounter):
    """Every document evaluated on its own: the plain rules."""

    def _shape(self, doc: Any) -> Any:
        raise TypeError("no sharing")


@pytest.mark.parametrize("seed", range(40))
def test_sharing_site_rows_among_shapes_changes_nothing(seed: int) -> None:
    rng = random.Random(seed)
    old, new = config(rng), config(rng)
    docs = [document(rng, i) for i in range(300)]
    shared, plain = ImpactCounter(old, new), Unshared(old, new)
    shared.add_all(docs)
    plain.add_all(docs)
    assert shared.impact() == plain.impact()


@pytest.mark.parametrize("seed", range(40))
def test_files_out_of_scope_keep_their_rows(seed: int) -> None:
    rng = random.Random(1000 + seed)
    old = config(rng)
    new = SyncConfig.from_docs(  # the same sites and defaults: only SyncTargets differ
        [{"_id": "rsyncGlobalParameters", "syncEverywhere": old.globals.sync_everywhere},
         {"_id": "hub/hub", "url": "/h/"},
         *({"_id": f"volume/{n}", "url": "/x/", "enableReception": v.receives}
           for n, v in old.volumes.items()),
         *(d for d in _target_docs(config(rng)))]
    )  # fmt: skip
    where = scope(old, new)
    assert where.prefixes == () or where.targets, "only SyncTargets changed"

    def kept(row: Any) -> tuple[Any, ...]:
        return row.site, row.wanted, row.pending, row.priority

    for i in range(300):
        doc = document(rng, i)
        file_id = doc["_id"]
        inside = any(file_id.startswith(p) for p in where.prefixes) and where.keeps(file_id)
        if not inside:
            before = [kept(r) for r in site_rows(doc, old)]
            assert before == [kept(r) for r in site_rows(doc, new)], file_id


def _target_docs(cfg: SyncConfig) -> list[dict[str, Any]]:
    return [
        {"_id": f"synctarget/{t.name}", "paths": [g.pattern for g in t.paths],
         "exclude": [g.pattern for g in t.exclude], "sites": sorted(t.sites),
         "everywhere": t.everywhere, "excludeSites": sorted(t.exclude_sites),
         "priority": t.priority}
        for t in cfg.targets
    ]  # fmt: skip


def test_a_change_of_sites_or_defaults_reads_every_file() -> None:
    rng = random.Random(7)
    base = config(rng)
    docs = [{"_id": "hub/hub", "url": "/h/"}, {"_id": "volume/paris", "url": "/p/"}]
    assert scope(base, base).empty
    assert scope(SyncConfig.from_docs(docs), SyncConfig.from_docs(docs[:1])).prefixes == ("",)
    flipped = SyncConfig.from_docs([*docs, {"_id": "rsyncGlobalParameters",
                                            "syncEverywhere": False}])  # fmt: skip
    assert scope(SyncConfig.from_docs(docs), flipped).prefixes == ("",)


@pytest.mark.parametrize("pattern", [*PATTERNS, "/renders/sh0[1-3]/*", "/?x/**", "/a/b/", "/"])
def test_every_id_a_pattern_matches_starts_with_its_literal_prefix(pattern: str) -> None:
    glob = compile_glob(pattern)
    prefix = literal_prefix(glob)
    rng = random.Random(pattern)
    alphabet = ["/", "a", "b", "x", "renders", "sh02", "comp", "cache", ".exr", ".nk", "/"]
    ids = {"/" + "".join(rng.choices(alphabet, k=rng.randint(1, 6))) for _ in range(3000)}
    ids |= {"/renders", "/renders/", "/renders/a.exr", "/a", "/a/", "/a/b/", "/comp/x.nk"}
    matched = [i for i in ids if glob.matches(i)]
    assert all(i.startswith(prefix) for i in matched)
    assert pattern.startswith("/") or prefix == ""
    assert [i for i in ids if any_matcher([glob])(i)] == matched
    every = [compile_glob(p) for p in PATTERNS]
    assert [any_matcher(every)(i) for i in ids] == [any_match(every, i) for i in ids]


@pytest.mark.parametrize(
    ("text", "size"),
    [("123", 123), ("1K", 1024), ("500G", 500 * 1024**3), ("1.2T", int(1.2 * 1024**4)),
     ("800MiB", 800 * 1024**2), ("2 GB", 2 * 1024**3), ("1p", 1024**5)],
)  # fmt: skip
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "-1G", "1.2.3T", "12 bananas", "1E"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0, "~1m"), (59, "~1m"), (600, "~10m"), (3 * 3600 + 600, "~3h10m"),
     (26 * 3600, "~1d2h")],
)  # fmt: skip
def test_eta(seconds: float | None, text: str) -> None:
    assert eta_text(seconds) == text


def test_table_and_json_round_trip() -> None:
    london = SiteImpact("london", newly_wanted=Amount(12345, int(1.2 * 1024**4)),
                        throughput=1.2 * 1024**4 / (3 * 3600 + 600))  # fmt: skip
    montreal = SiteImpact("montreal", no_longer_wanted=Amount(412, int(3.4 * 1024**3)))
    impact = Impact((london, montreal), evaluated=20000)
    assert impact_table(impact).splitlines()[:3] == [
        "SITE       NEWLY WANTED       NO LONGER WANTED   PRIORITY CHANGES   ETA",
        "london     12,345 (1.2 TiB)   0                  0                  ~3h10m",
        "montreal   0                  412 (3.4 GiB)      0                  -",
    ]
    assert "never deleted" in impact_table(impact)
    assert impact_from_json(impact.json()) == impact
    assert impact.over(1024**4) == ["london"]
    assert (
        impact.json(10)["overMaxBytes"]
        == [
            "london",
        ]
        and impact.over(None) == []
    )


def test_receptions_add_to_the_measured_throughput() -> None:
    status: dict[str, Any] = {"agentStatus": "on"}
    for _ in range(2):
        status |= volume_status(
            status, direction=Direction.RECEPTION, exit_code=0, stderr="", delivered=3,
            now=1000, backoff_base=30, backoff_max=3600, sent_bytes=5_000_000, seconds=2.0,
        )  # fmt: skip
    assert (status[RECEIVED_BYTES_KEY], status[RECEPTION_SECONDS_KEY]) == (10_000_000, 4.0)
    assert throughput(status) == 2_500_000
    emission = volume_status(
        status, direction=Direction.EMISSION, exit_code=0, stderr="", delivered=3, now=1000,
        backoff_base=30, backoff_max=3600, sent_bytes=5_000_000, seconds=2.0,
    )  # fmt: skip
    assert RECEIVED_BYTES_KEY not in emission
    assert throughput({}) is None and throughput(None) is None
