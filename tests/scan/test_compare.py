"""Scan decisions as data: listed entry + tracked state -> action (architecture.md#the-loop
"Scan")."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest

from reconciler.jobs.scan.compare import (
    Action,
    ActionKind,
    OrderError,
    ScanContext,
    changes,
    compare,
    decide_gone,
    decide_present,
    new_document,
)
from reconciler.jobs.scan.compare import _unchanged as unchanged
from reconciler.jobs.scan.listing import EntryKind, Listed
from reconciler.jobs.scan.tracked import Tracked, tracked_from_doc

V = "paris"
STARTED = 10_000_000  # the listing started here (ms)
CTX = ScanContext(volume=V, now=STARTED + 500, started=STARTED)
A = ActionKind
OLD = STARTED - 1000  # tracker state older than the listing
NEW = STARTED + 10  # tracker state written while the listing ran

FILE = Listed("/f.exr", 100, 5_000_123)  # size 100, mtime 5000.123 s


def T(**kw: object) -> Tracked:
    base = dict(id="/f.exr", origin="tokyo", deleted=False, time=OLD, size=100,
                mtime=5_000_999, synced=None, syncing=False)  # fmt: skip
    base.update(kw)
    return Tracked(**base)  # type: ignore[arg-type]


PRESENT: list[tuple[str, Listed, Tracked | None, dict[str, Any], ActionKind | None]] = [
    # (case, entry, tracked, context changes, expected)
    ("untracked -> publish", FILE, None, {}, A.PUBLISH),
    ("package member is never judged", FILE._replace(kind=EntryKind.MEMBER), None, {}, None),
    ("untracked, ignoreExisting, older than first scan", FILE, None,
     {"ignore_before": 5_000_124}, None),
    ("untracked, ignoreExisting, newer than first scan", FILE, None,
     {"ignore_before": 5_000_000}, A.PUBLISH),
    # this volume is the origin
    ("origin, same size and mtime second", FILE, T(origin=V), {}, None),
    ("origin, size differs", FILE, T(origin=V, size=99), {}, A.MODIFY),
    ("origin, mtime differs by a second", FILE, T(origin=V, mtime=5_001_000), {}, A.MODIFY),
    ("origin, modified but updates disabled", FILE, T(origin=V, size=99),
     {"discover_updated": False}, None),
    ("origin, tracker changed during the listing", FILE, T(origin=V, size=99, time=NEW), {}, None),
    ("origin, attributes unknown yet", FILE, T(origin=V, size=None, mtime=None), {}, None),
    ("being transferred", FILE, T(origin=V, size=99, syncing=True), {}, None),
    # a copy delivered here (synced >= time)
    ("delivered copy, mtime preserved", FILE, T(synced=OLD), {}, None),
    ("delivered copy, changed here", FILE, T(synced=OLD, size=5), {}, A.MODIFY),
    ("delivered copy, delivered during the listing", FILE, T(synced=NEW, size=5), {}, None),
    # a copy here that the tracker does not count (missing or outdated)
    ("unrecorded copy of the current version", FILE, T(), {}, A.HOLD),
    ("unrecorded copy, another version", FILE, T(size=5), {}, None),
    ("outdated copy, another version", FILE, T(synced=OLD - 1, time=OLD, size=5), {}, None),
    ("outdated copy that matches now", FILE, T(synced=OLD - 1, time=OLD), {}, A.HOLD),
    ("first scan with ignoreExisting holds an unknown version", FILE, T(size=None),
     {"hold_existing": True}, A.HOLD),
    ("first scan with ignoreExisting leaves a known other version", FILE, T(size=5),
     {"hold_existing": True}, None),
    ("first scan hold waits if the file changed meanwhile", FILE, T(size=None, time=NEW),
     {"hold_existing": True}, None),
    # deleted files
    ("deleted, back at its origin unchanged", FILE, T(origin=V, deleted=True), {}, A.RESTORE),
    ("deleted, back at its origin changed", FILE, T(origin=V, deleted=True, size=1), {},
     A.MODIFY),
    ("deleted, leftover copy elsewhere", FILE, T(deleted=True, synced=OLD), {}, None),
    ("deleted, copy elsewhere changed", FILE, T(deleted=True, synced=OLD, size=1), {}, A.MODIFY),
    ("deleted, unrecorded copy elsewhere", FILE, T(deleted=True), {}, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "tracked", "ctx", "expected"),
    [pytest.param(e, t, replace(CTX, **c), x, id=case) for case, e, t, c, x in PRESENT],
)
def test_decide_present(
    entry: Listed, tracked: Tracked | None, ctx: ScanContext, expected: ActionKind | None
) -> None:
    assert decide_present(entry, tracked, ctx) is expected


GONE: list[tuple[str, Tracked, dict[str, Any], ActionKind | None]] = [
    ("gone from its origin", T(origin=V), {}, A.DELETE),
    ("gone from its origin, deletions disabled", T(origin=V), {"discover_deleted": False}, None),
    ("published during the listing", T(origin=V, time=NEW), {}, None),
    ("already deleted", T(origin=V, deleted=True), {}, None),
    ("out of scope (excluded)", T(origin=V), {"in_scope": lambda _id: False}, None),
    ("recorded copy gone", T(synced=OLD), {}, A.LOSE),
    ("copy delivered during the listing", T(synced=NEW), {}, None),
    ("copy being delivered", T(synced=OLD, syncing=True), {}, None),
    ("deleted file's copy removed by hand", T(deleted=True, synced=OLD), {}, A.LOSE),
    ("never here", T(), {}, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tracked", "ctx", "expected"),
    [pytest.param(t, replace(CTX, **c), x, id=case) for case, t, c, x in GONE],
)
def test_decide_gone(tracked: Tracked, ctx: ScanContext, expected: ActionKind | None) -> None:
    assert decide_gone(tracked, ctx) is expected


def test_compare_merges_sorted_streams() -> None:
    listed = [Listed("/a", 1, 1000), Listed("/b", 2, 2000), Listed("/d", 4, 4000)]
    tracked = [
        T(id="/a", origin=V, size=1, mtime=1000),  # unchanged
        T(id="/b", origin=V, size=3, mtime=2000),  # modified
        T(id="/c", origin=V),  # deleted
        T(id="/e", synced=OLD),  # copy lost
    ]
    assert list(compare(listed, tracked, CTX)) == [
        Action(A.MODIFY, "/b", listed[1]),
        Action(A.DELETE, "/c", None),
        Action(A.PUBLISH, "/d", listed[2]),
        Action(A.LOSE, "/e", None),
    ]
    assert list(compare(listed, [], CTX)) == [Action(A.PUBLISH, e.id, e) for e in listed]
    assert list(compare([], tracked[2:3], CTX)) == [Action(A.DELETE, "/c", None)]


@pytest.mark.parametrize("side", ["listed", "tracked"])
def test_compare_refuses_unsorted_input(side: str) -> None:
    unsorted = ["/b", "/a"]
    listed = [Listed(i, 1, 1) for i in unsorted] if side == "listed" else []
    tracked = [T(id=i) for i in unsorted] if side == "tracked" else []
    with pytest.raises(OrderError):
        list(compare(listed, tracked, CTX))


def test_documents_written() -> None:
    assert new_document(FILE, CTX) == {
        "_id": "/f.exr", "origin": V, "comment": "scanned at paris", "author": "support",
        "time": CTX.now, "file_mtime": 5_000_123, "file_size": 100, "synced_paris": CTX.now,
    }  # fmt: skip
    assert changes(A.MODIFY, FILE, CTX) == {
        "time": CTX.now, "origin": V, "file_mtime": 5_000_123, "file_size": 100,
        "modified_paris": CTX.now, "comment": "modified at paris", "synced_paris": CTX.now,
        "deleted": None, "syncError_paris": None, "syncLastAttempt_paris": None,
        "syncAttempts_paris": None,
    }  # fmt: skip
    assert changes(A.DELETE, None, CTX) == {"deleted": True, "synced_paris": None}
    assert changes(A.LOSE, None, CTX) == {"synced_paris": None}
    assert changes(A.RESTORE, FILE, CTX) == {"deleted": None, "synced_paris": CTX.now}
    with pytest.raises(ValueError):
        changes(A.PUBLISH, FILE, CTX)


def test_projection_of_a_document() -> None:
    doc = {"_id": "/x", "origin": V, "deleted": True, "time": 5, "file_size": 1.0,
           "file_mtime": "bad", "synced_paris": 7, "syncing_paris": 8,
           "synced_tokyo": 9}  # fmt: skip
    assert tracked_from_doc(doc, V) == Tracked("/x", V, True, 5, 1, None, 7, True)
    assert tracked_from_doc({"_id": "/y", "deleted": 1, "origin": 3}, V) == Tracked(
        "/y", None, False, 0, None, None, None, False
    )


def test_the_inline_no_op_case_is_a_no_op_for_decide_present() -> None:
    """`compare` skips `decide_present` for what `_unchanged` accepts: over a grid of tracker
    states, listed entries and contexts, whatever it accepts decides nothing."""
    grid = itertools.product(
        (V, "tokyo", None),  # origin
        (False, True),  # deleted
        (OLD, NEW),  # time
        (None, 100, 101),  # size
        (None, 5_000_000, 5_000_999, 6_000_000),  # mtime
        (None, OLD - 1, OLD, NEW),  # synced
        (False, True),  # syncing
    )
    entries = [FILE._replace(kind=k) for k in EntryKind] + [Listed("/f.exr", 100, 4_999_999)]
    contexts = [CTX, replace(CTX, hold_existing=True), replace(CTX, discover_updated=False),
                replace(CTX, started=NEW + 1)]  # fmt: skip
    accepted = 0
    for origin, deleted, time, size, mtime, synced, syncing in grid:
        tracked = T(origin=origin, deleted=deleted, time=time, size=size, mtime=mtime,
                    synced=synced, syncing=syncing)  # fmt: skip
        for entry in entries:
            if unchanged(entry, tracked, V):
                accepted += 1
                assert all(decide_present(entry, tracked, ctx) is None for ctx in contexts)
    assert accepted > 50  # the grid holds the case it is meant for
