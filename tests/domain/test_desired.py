"""architecture.md#desired-state as data: (file, configuration) -> which sites want it, priority,
state, backoff."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.config import SyncConfig
from reconciler.core.desired import (
    decide,
    file_priority,
    next_retry,
    site_rows,
    site_state,
    volume_scope,
)
from reconciler.core.domain import SiteState


def config(*extra: dict[str, Any], everywhere: bool = True) -> SyncConfig:
    docs: list[dict[str, Any]] = [
        {
            "_id": "rsyncGlobalParameters",
            "syncEverywhere": everywhere,
            "retryBackoffBase": 10,
            "retryBackoffMax": 60,
        },
        {"_id": "hub/hub", "url": "/hub/"},
        {"_id": "volume/paris", "url": "/p/"},
        {"_id": "volume/tokyo", "url": "/t/"},
        {"_id": "volume/rome", "url": "/r/", "enableReception": False},
        *extra,
    ]
    return SyncConfig.from_docs(docs)


RENDERS = {"_id": "synctarget/renders", "paths": ["/renders/**"], "sites": ["tokyo"], "priority": 4}
NO_TOKYO = {
    "_id": "synctarget/notokyo",
    "paths": ["*.tmp"],
    "everywhere": True,
    "excludeSites": ["tokyo"],
}

CASES = [
    # (id, file keys, config kwargs/extra docs, site, wanted, rule fragment)
    ("global default on", {}, (), True, "tokyo", True, "global syncEverywhere=true"),
    ("global default off", {}, (), False, "tokyo", False, "global syncEverywhere=false"),
    (
        "per-file site key wins",
        {"sync_tokyo": False, "syncEverywhere": True},
        (),
        True,
        "tokyo",
        False,
        "sync_tokyo=false",
    ),
    ("per-file site key adds", {"sync_tokyo": True}, (), False, "tokyo", True, "sync_tokyo=true"),
    (
        "per-file syncEverywhere",
        {"syncEverywhere": True},
        (RENDERS,),
        False,
        "tokyo",
        True,
        "per-file key syncEverywhere=true",
    ),
    (
        "synctarget includes",
        {"_id": "/renders/a.exr"},
        (RENDERS,),
        False,
        "tokyo",
        True,
        "synctarget/renders",
    ),
    (
        "synctarget does not list site",
        {"_id": "/renders/a.exr", "origin": "tokyo"},
        (RENDERS,),
        True,
        "paris",
        False,
        "synctarget/renders",
    ),
    (
        "synctarget excludeSites",
        {"_id": "/x/a.tmp"},
        (NO_TOKYO,),
        True,
        "tokyo",
        False,
        "synctarget/notokyo",
    ),
    (
        "no matching target falls back",
        {"_id": "/other"},
        (RENDERS,),
        False,
        "tokyo",
        False,
        "global",
    ),
    ("reception disabled", {}, (), True, "rome", False, "reception disabled"),
    ("origin holds it", {"origin": "tokyo"}, (), False, "tokyo", True, "origin"),
    ("deleted", {"deleted": True}, (), True, "tokyo", False, "deleted"),
]


@pytest.mark.parametrize(
    ("keys", "extra", "everywhere", "site", "wanted", "rule"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_decide(
    keys: dict[str, Any],
    extra: tuple[dict[str, Any], ...],
    everywhere: bool,
    site: str,
    wanted: bool,
    rule: str,
) -> None:
    cfg = config(*extra, everywhere=everywhere)
    doc = {"_id": "/f", "origin": "paris", "time": 1000, **keys}
    decision = decide(doc, cfg.volumes[site], cfg)
    assert decision.wanted is wanted
    assert rule in decision.rule


def test_priority_own_key_then_highest_target_then_zero() -> None:
    low = {"_id": "synctarget/low", "paths": ["/renders/**"], "everywhere": True, "priority": 1}
    cfg = config(RENDERS, low)
    assert file_priority({"_id": "/renders/a", "sync_priority": -2}, cfg) == -2
    assert file_priority({"_id": "/renders/a"}, cfg) == 4
    assert file_priority({"_id": "/elsewhere"}, cfg) == 0


@pytest.mark.parametrize(
    ("keys", "state"),
    [
        ({}, SiteState.MISSING),
        ({"synced_tokyo": 999}, SiteState.OUTDATED),
        ({"synced_tokyo": 1000}, SiteState.SYNCED),
        ({"synced_tokyo": 1000, "syncing_tokyo": 5}, SiteState.SYNCING),
        ({"syncError_tokyo": 23}, SiteState.ERROR),
    ],
)
def test_site_state(keys: dict[str, Any], state: SiteState) -> None:
    assert site_state({"_id": "/f", "origin": "paris", "time": 1000, **keys}, "tokyo") is state


def test_backoff_doubles_and_is_capped_and_skips_unreachable_errors() -> None:
    cfg = config()
    base = {"_id": "/f", "syncError_tokyo": 23, "syncLastAttempt_tokyo": 1_000_000}
    assert next_retry({**base, "syncAttempts_tokyo": 1}, "tokyo", cfg) == 1_010_000
    assert next_retry({**base, "syncAttempts_tokyo": 3}, "tokyo", cfg) == 1_040_000
    assert next_retry({**base, "syncAttempts_tokyo": 9}, "tokyo", cfg) == 1_060_000
    assert next_retry({**base, "syncError_tokyo": 255}, "tokyo", cfg) is None
    assert next_retry({"_id": "/f"}, "tokyo", cfg) is None


def test_rows_hub_always_wanted_and_volumes_wait_for_the_hub_copy() -> None:
    cfg = config()
    rows = {r.site: r for r in site_rows({"_id": "/f", "origin": "paris", "time": 10}, cfg)}
    assert rows["hub"].wanted and rows["hub"].pending and rows["hub"].ready
    assert rows["tokyo"].pending and not rows["tokyo"].ready
    assert not rows["paris"].pending and rows["paris"].state is SiteState.SYNCED
    assert "rome" not in rows  # not wanted and holds nothing: no row
    rows = {
        r.site: r
        for r in site_rows({"_id": "/f", "origin": "paris", "time": 10, "synced_hub": 10}, cfg)
    }
    assert rows["tokyo"].ready and not rows["hub"].pending


def test_deleted_file_is_removed_only_where_deletions_propagate() -> None:
    cfg = config({"_id": "volume/oslo", "url": "/o/", "propagateDeletions": True})
    doc = {
        "_id": "/f",
        "origin": "paris",
        "time": 10,
        "deleted": True,
        "synced_tokyo": 10,
        "synced_oslo": 10,
    }
    rows = {r.site: r for r in site_rows(doc, cfg)}
    assert rows["oslo"].removal and not rows["tokyo"].removal
    assert not any(r.pending for r in rows.values())


def test_site_rows_agree_with_the_rule_functions_on_generated_documents() -> None:
    """`site_rows` is the hot path; `decide`, `site_state` and `next_retry` are the oracle."""
    import random

    from reconciler.core.domain import SiteState as S

    rng = random.Random(7)
    cfg = config(
        RENDERS,
        NO_TOKYO,
        {"_id": "volume/oslo", "url": "/o/", "propagateDeletions": True},
        everywhere=False,
    )
    sites = ["hub", "paris", "tokyo", "rome", "oslo"]
    values: list[Any] = [None, True, False, 0, 5, 10, 20, 20.5, "x", 255, 23]
    for _ in range(3000):
        doc: dict[str, Any] = {
            "_id": rng.choice(["/renders/a.exr", "/x/b.tmp", "/c", "/renders/d.tmp"])
        }
        for key in ["time", "file_size", "origin", "deleted", "syncEverywhere", "sync_priority"]:
            if rng.random() < 0.6:
                doc[key] = rng.choice([*values, "paris", "tokyo", "oslo"])
        for site in sites:
            for prefix in ("synced_", "syncing_", "syncError_", "syncLastAttempt_", "sync_"):
                if rng.random() < 0.3:
                    doc[prefix + site] = rng.choice(values)
        rows = {r.site: r for r in site_rows(doc, cfg)}
        for name, volume in cfg.volumes.items():
            decision = decide(doc, volume, cfg)
            if decision.wanted:
                assert name in rows, (doc, name)
            if name in rows:
                row = rows[name]
                assert row.wanted is decision.wanted, (doc, name)
        for site, row in rows.items():
            assert row.state is site_state(doc, site), (doc, site)
            assert row.failed is (doc.get(f"syncError_{site}") is not None)
            assert row.next_retry == (next_retry(doc, site, cfg) if row.failed else None)
            up_to_date = row.state is S.SYNCED and site != doc.get("origin")
            if row.pending:
                assert row.wanted and not up_to_date, (doc, site)


def test_a_volumes_own_keys_change_its_row_alone_on_generated_documents() -> None:
    """`volume_scope` lets a write re-derive one row: prove that no other row moves."""
    import random

    rng = random.Random(11)
    cfg = config(
        RENDERS, NO_TOKYO, {"_id": "volume/oslo", "url": "/o/", "propagateDeletions": True}
    )
    sites = ["hub", "paris", "tokyo", "rome", "oslo"]
    values: list[Any] = [None, True, False, 0, 5, 10, 20, 20.5, "x", 255, 23]
    own = ("sync_", "synced_", "syncing_", "syncError_", "syncLastAttempt_", "syncAttempts_")
    for _ in range(3000):
        doc: dict[str, Any] = {"_id": rng.choice(["/renders/a.exr", "/x/b.tmp", "/c"])}
        for key in ["time", "file_size", "origin", "deleted", "syncEverywhere", "sync_priority"]:
            if rng.random() < 0.6:
                doc[key] = rng.choice([*values, "paris", "tokyo", "oslo"])
        for site in sites:
            for prefix in own:
                if rng.random() < 0.3:
                    doc[prefix + site] = rng.choice(values)
        volume = rng.choice(["paris", "tokyo", "rome", "oslo"])
        changed = [p + volume for p in own if rng.random() < 0.5] or ["synced_" + volume]
        after = dict(doc)
        for key in changed:
            value = rng.choice(values)
            if value is None:
                after.pop(key, None)
            else:
                after[key] = value
        assert volume_scope(changed, cfg) == volume
        before_rows = {r.site: r for r in site_rows(doc, cfg)}
        after_rows = {r.site: r for r in site_rows(after, cfg)}
        others = (set(before_rows) | set(after_rows)) - {volume}
        assert {s: before_rows.get(s) for s in others} == {s: after_rows.get(s) for s in others}, (
            doc,
            changed,
        )
        assert site_rows(after, cfg, only=volume) == (
            [after_rows[volume]] if volume in after_rows else []
        ), (after, volume)


def test_the_scope_of_changed_keys() -> None:
    cfg = config()
    assert volume_scope(["synced_paris", "syncing_paris", "syncError_paris"], cfg) == "paris"
    assert volume_scope(["syncAttempts_tokyo", "syncLastAttempt_tokyo"], cfg) == "tokyo"
    assert volume_scope(["synced_paris", "synced_tokyo"], cfg) is None  # two volumes
    assert volume_scope(["synced_hub"], cfg) is None  # the hub makes every volume ready
    assert volume_scope(["synced_paris", "file_size"], cfg) is None  # every row's size
    assert volume_scope(["synced_nowhere"], cfg) is None  # not a volume
    assert volume_scope(["sync_priority"], config({"_id": "volume/priority", "url": "/x/"})) is None
    assert volume_scope([], cfg) is None
