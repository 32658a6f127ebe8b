"""`explain`: the rule that decided, the queue position, errors and retries, on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.services.explain import explain
from reconciler.services.status import NotFound
from reconciler.store import Store
from tests.observability.seed import CONFIG, MIN, NOW, seed

HUB_COPY = {"synced_hub": NOW - 50 * MIN}
BASE = {"origin": "paris", "time": NOW - 60 * MIN, "file_size": 1000, **HUB_COPY}

RULES = [
    # (file, site, wanted, rule, summary start)
    ({"_id": "/own", **BASE, "sync_tokyo": False, "syncEverywhere": True}, "tokyo", False,
     "per-file key sync_tokyo=false", "not wanted on tokyo: per-file key sync_tokyo=false"),
    ({"_id": "/own-yes", **BASE, "sync_tokyo": True, "syncEverywhere": False}, "tokyo", True,
     "per-file key sync_tokyo=true", "missing on tokyo (wanted: per-file key sync_tokyo=true)"),
    ({"_id": "/every", **BASE, "syncEverywhere": False}, "tokyo", False,
     "per-file key syncEverywhere=false",
     "not wanted on tokyo: per-file key syncEverywhere=false"),
    ({"_id": "/renders/a.exr", **BASE, "origin": "tokyo"}, "paris", True,
     "synctarget/renders (matching SyncTargets)",
     "missing on paris (wanted: synctarget/renders (matching SyncTargets))"),
    ({"_id": "/renders/b.exr", **BASE}, "tokyo", False,
     "synctarget/renders (matching SyncTargets)",
     "not wanted on tokyo: synctarget/renders (matching SyncTargets)"),
    ({"_id": "/plain", **BASE}, "tokyo", True, "global syncEverywhere=true",
     "missing on tokyo (wanted: global syncEverywhere=true)"),
    ({"_id": "/plain2", **BASE}, "london", False, "volume london has reception disabled",
     "not wanted on london: volume london has reception disabled"),
    ({"_id": "/mine", **BASE}, "paris", True, "origin: the file was published or found here",
     "paris is the origin: the authoritative copy is there"),
    ({"_id": "/gone", **BASE, "deleted": True, "synced_tokyo": NOW - 40 * MIN}, "tokyo", False,
     "deleted: the file vanished from its origin",
     "not wanted on tokyo (a copy is still there): deleted: the file vanished from its origin"),
    ({"_id": "/gone2", **BASE, "deleted": True}, "hub", False,
     "deleted: the file vanished from its origin",
     "not wanted on hub (a copy is still there): deleted"),
    ({"_id": "/there", **BASE, "synced_tokyo": NOW - 10 * MIN}, "tokyo", True,
     "global syncEverywhere=true",
     "synced on tokyo at 2027-01-15 07:50:00Z (wanted: global syncEverywhere=true)"),
]  # fmt: skip


@pytest.mark.parametrize(("doc", "site", "wanted", "rule", "summary"), RULES,
                         ids=[str(r[0]["_id"]) for r in RULES])  # fmt: skip
def test_each_rule_of_spec_4(
    store: Store, doc: dict[str, Any], site: str, wanted: bool, rule: str, summary: str
) -> None:
    seed(store, doc)
    with store.read() as tx:
        (e,) = explain(tx, str(doc["_id"]), site, now=NOW)
    assert (e.site, e.wanted, e.rule) == (site, wanted, rule)
    assert e.summary.startswith(summary), e.summary


def test_global_default_false_and_every_site_listed(store: Store) -> None:
    config = [dict(c) for c in CONFIG]
    config[0] = {**config[0], "syncEverywhere": False}
    seed(store, {"_id": "/x", **BASE}, config=config)
    with store.read() as tx:
        items = explain(tx, "/x", now=NOW)
    assert [e.site for e in items] == ["hub", "london", "paris", "tokyo"]
    tokyo = items[-1]
    assert (tokyo.wanted, tokyo.rule) == (False, "global syncEverywhere=false")
    assert items[0].summary.startswith("synced on hub at")


def test_queue_position_and_bytes_ahead(store: Store) -> None:
    seed(
        store,
        {"_id": "/first", **BASE, "time": NOW - 90 * MIN, "file_size": 300},
        {
            "_id": "/urgent",
            **BASE,
            "time": NOW - 5 * MIN,
            "file_size": 200,
            "sync_priority": 3,
            "synced_hub": NOW,
        },
        {"_id": "/me", **BASE, "time": NOW - 60 * MIN, "file_size": 1000},
        {"_id": "/later", **BASE, "time": NOW - 30 * MIN, "file_size": 5000},
        # Not ready (no hub copy): not in tokyo's reception lane, so not ahead of /me.
        {"_id": "/nohub", "origin": "paris", "time": NOW - 99 * MIN, "file_size": 7},
    )
    with store.read() as tx:
        (me,) = explain(tx, "/me", "tokyo", now=NOW)
        (nohub,) = explain(tx, "/nohub", "tokyo", now=NOW)
        (nohub_hub,) = explain(tx, "/nohub", "hub", now=NOW)
    assert (me.pending, me.queue_position, me.files_ahead, me.bytes_ahead) == (True, 3, 2, 500)
    assert me.direction == "reception" and not me.waiting_for_hub
    assert "position 3 in the reception queue of tokyo (2 files, 500 B ahead)" in me.summary
    assert nohub.waiting_for_hub and nohub.queue_position is None
    assert "waiting for the hub copy (hub is missing; it comes from paris)" in nohub.summary
    assert (nohub_hub.direction, nohub_hub.queue_position) == ("emission", 1)
    assert nohub_hub.summary.endswith("next in the emission queue of hub")


def test_last_error_and_next_retry(store: Store) -> None:
    seed(
        store,
        {"_id": "/perm", **BASE, "syncError_tokyo": 23, "syncLastAttempt_tokyo": NOW - 10_000,
         "syncAttempts_tokyo": 3},
        {"_id": "/due", **BASE, "syncError_tokyo": 11, "syncLastAttempt_tokyo": NOW - 60 * MIN},
    )  # fmt: skip
    with store.read() as tx:
        (perm,) = explain(tx, "/perm", "tokyo", now=NOW)
        (due,) = explain(tx, "/due", "tokyo", now=NOW)
    # Third failure: 30 s * 2**2 after the last attempt.
    assert (perm.state, perm.last_error, perm.next_retry) == ("error", 23, NOW + 110_000)
    assert perm.last_error_text == "partial transfer due to error"
    assert "with exit 23 (partial transfer due to error)" in perm.summary
    assert perm.summary.endswith("next retry at 2027-01-15 08:01:50Z")
    assert due.summary.endswith("due for retry now")


def test_volume_down_and_disabled(store: Store) -> None:
    config = [dict(c) for c in CONFIG]
    config[3] = {**config[3], "lastConnectionSuccess": NOW - 30 * MIN}  # tokyo down
    config[2] = {**config[2], "enableEmission": False}  # paris sends nothing
    seed(
        store,
        {"_id": "/blocked", **BASE, "syncError_tokyo": 255, "syncLastAttempt_tokyo": NOW - MIN},
        {"_id": "/unsent", "origin": "paris", "time": NOW - 9 * MIN},
        config=config,
    )
    with store.read() as tx:
        (down,) = explain(tx, "/blocked", "tokyo", now=NOW)
        (unsent,) = explain(tx, "/unsent", "hub", now=NOW)
    assert (down.volume_reachable, down.next_retry) == (False, None)
    assert "volume tokyo is unreachable: retried as soon as it answers" in down.summary
    assert "exit 255 (ssh: connection failed)" in down.summary
    assert (unsent.volume, unsent.volume_enabled) == ("paris", False)
    assert "volume paris has emission disabled: nothing moves until it is enabled" in (
        unsent.summary
    )


def test_unknown_file_or_site(store: Store) -> None:
    seed(store, {"_id": "/x", **BASE})
    with store.read() as tx:
        with pytest.raises(NotFound, match="/y is not tracked"):
            explain(tx, "/y", now=NOW)
        with pytest.raises(NotFound, match="site: no hub or volume named 'mars'"):
            explain(tx, "/x", "mars", now=NOW)
