"""Scan -> reconcile: a file saved at one site ends up at the others (real sshd + rsync)."""

from __future__ import annotations

import os

import pytest

from reconciler.jobs.scheduler import open_session, reconcile_once
from tests.scan.conftest import World, write

pytestmark = pytest.mark.ssh
PAST = 1_600_000_000


def test_saved_at_one_site_delivered_everywhere_then_quiet(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True)
    tokyo = world.volume("tokyo", enableDiscovery=True)
    london = world.volume("london", enableDiscovery=True)
    write(paris.root / "shots/sh010/comp v1.exr", b"frame one", mtime=PAST + 0.5)
    session = open_session(world.store)
    try:
        rt = session.rt
        assert reconcile_once(rt) is False  # scans, then emission and receptions
        for site in (tokyo, london):
            copy = site.root / "shots/sh010/comp v1.exr"
            assert copy.read_bytes() == b"frame one"
            assert int(copy.stat().st_mtime) == PAST
        doc = world.doc("/shots/sh010/comp v1.exr")
        assert doc is not None and doc["origin"] == "paris"
        assert all(doc[f"synced_{s}"] >= doc["time"] for s in ("hub", "tokyo", "london"))
        # delivered copies are not modifications: the next pass changes nothing at all
        before = world.snapshot()
        assert reconcile_once(rt) is False
        assert world.snapshot() == before
        # saved again in tokyo: tokyo becomes the origin and the others follow
        write(tokyo.root / "shots/sh010/comp v1.exr", b"frame one, v2")
        assert reconcile_once(rt) is False
        doc = world.doc("/shots/sh010/comp v1.exr")
        assert doc is not None and (doc["origin"], doc["file_size"]) == ("tokyo", 13)
        for site in (paris, london):
            assert (site.root / "shots/sh010/comp v1.exr").read_bytes() == b"frame one, v2"
        trash = paris.root / ".syncplanet/trash"
        assert [p.read_bytes() for p in trash.rglob("comp v1.exr")] == [b"frame one"]
        before = world.snapshot()
        assert reconcile_once(rt) is False
        assert world.snapshot() == before
        assert os.listdir(london.root / "shots/sh010") == ["comp v1.exr"]
    finally:
        session.close()


def test_a_deletion_reaches_mirroring_volumes_in_the_same_pass(world: World) -> None:
    # one file of two goes: above the guard's 10 % (tests/scan/test_unmounted.py tests it)
    paris = world.volume("paris", enableDiscovery=True, enableDiscoveryDeletedFiles=True,
                         maxDeletionsPercent=100)  # fmt: skip
    tokyo = world.volume("tokyo", propagateDeletions=True)  # mirrors, is not scanned
    london = world.volume("london")  # keeps its copies
    write(paris.root / "refs/old.ma", b"retired", mtime=PAST)
    write(paris.root / "refs/kept.ma", b"kept", mtime=PAST)  # an empty root is refused
    session = open_session(world.store)
    try:
        rt = session.rt
        assert reconcile_once(rt) is False
        assert (tokyo.root / "refs/old.ma").exists() and (london.root / "refs/old.ma").exists()
        (paris.root / "refs/old.ma").unlink()
        assert reconcile_once(rt) is False  # one pass: paris's scan, then tokyo's deletions
        doc = world.doc("/refs/old.ma")
        assert doc is not None and doc["deleted"] is True
        assert not (tokyo.root / "refs/old.ma").exists()
        trashed = list((tokyo.root / ".syncplanet/trash").rglob("old.ma"))
        assert [p.read_bytes() for p in trashed] == [b"retired"]
        assert (london.root / "refs/old.ma").read_bytes() == b"retired"
        assert "synced_tokyo" not in doc
    finally:
        session.close()
