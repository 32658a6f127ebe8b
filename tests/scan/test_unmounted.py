"""Fault matrix 7 (issue 12): an unmounted volume is not a deleted production.

Real sshd volumes and real rsync: an origin of 500 files, two mirrors with
`propagateDeletions`. The share goes away (its mountpoint left empty, or holding a stray
file): nothing is marked deleted, nothing moves to trash, the volume is reported not mounted
and nothing is written into the mountpoint; remounted, it resumes. A real deletion larger
than the guard allows is held until `--confirm-deletions`, then propagated.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.core.config import SyncConfig
from reconciler.core.manifest_schema import Kind, check_spec
from reconciler.jobs.markers import NOT_MOUNTED_EXIT, Marker, Verdict, judge, parse_marker
from reconciler.jobs.notify import plan_pass
from reconciler.jobs.scan import ScanStatus
from reconciler.jobs.scan.guard import DeletionLimits, held_reason
from reconciler.jobs.scheduler import open_session, reconcile_once
from reconciler.services.metrics import Metrics
from reconciler.services.status import site_status
from tests.scan.conftest import World, write
from tests.support.sshd import SshSite

PAST = 1_600_000_000
FILES = 500
MARKER = ".syncplanet/volume.json"


def _production(world: World) -> tuple[SshSite, SshSite, SshSite]:
    paris = world.volume("paris", enableDiscovery=True, notifiedEmails="ops@studio.example")
    tokyo = world.volume("tokyo", enableDiscovery=True, propagateDeletions=True)
    london = world.volume("london", propagateDeletions=True)
    for i in range(FILES):
        write(paris.root / f"shots/sh{i // 50:02d}/f{i:03d}.exr", f"frame {i}", mtime=PAST)
    return paris, tokyo, london


def _reconcile(world: World) -> None:
    session = open_session(world.store)
    try:
        reconcile_once(session.rt)
    finally:
        session.close()


def _unmount(site: SshSite, *, stray: bool) -> Path:
    """The share goes away; its mountpoint stays, empty or with one stray file in it."""
    share = site.dir / "share"
    site.root.rename(share)
    site.root.mkdir()
    if stray:
        write(site.root / "stray.txt", b"written into the mountpoint")
    return share


def _remount(site: SshSite, share: Path) -> None:
    shutil.rmtree(site.root)
    share.rename(site.root)


def _trashed(*roots: Path) -> list[Path]:
    return [p for root in roots for p in (root / ".syncplanet/trash").rglob("*") if p.is_file()]


def _deleted(world: World) -> list[str]:
    return sorted(i for i, d in world.files().items() if d.get("deleted"))


def _scrape(world: World) -> Metrics:
    metrics = Metrics()
    metrics.register_store_collector(world.store)
    return metrics


@pytest.mark.ssh
@pytest.mark.parametrize("stray", [False, True], ids=["empty", "stray-file"])
def test_an_unmounted_origin_marks_nothing_deleted_and_resumes_once_remounted(
    world: World, stray: bool
) -> None:
    paris, tokyo, london = _production(world)
    _reconcile(world)
    for site in (paris, tokyo, london):  # first contact: every root got its marker
        marker = json.loads((site.root / MARKER).read_bytes())
        volume = world.doc(f"volume/{site.name}")
        assert volume is not None and marker == {"name": site.name, "id": volume["volumeId"]}
        assert len(list((site.root / "shots").rglob("*.exr"))) == FILES
    before = world.snapshot()

    share = _unmount(paris, stray=stray)
    write(tokyo.root / "from-tokyo.exr", b"new at tokyo", mtime=PAST)  # wanted at paris
    _reconcile(world)
    assert _deleted(world) == []
    assert _trashed(world.hub, paris.root, share, tokyo.root, london.root) == []
    for site in (tokyo, london):
        assert len(list((site.root / "shots").rglob("*.exr"))) == FILES
    assert sorted(p.name for p in paris.root.iterdir()) == (["stray.txt"] if stray else [])
    assert "/stray.txt" not in world.files()
    files = world.files()
    assert {i: d for i, d in files.items() if i != "/from-tokyo.exr"} == before[0]
    assert "synced_paris" not in files["/from-tokyo.exr"]
    assert (london.root / "from-tokyo.exr").read_bytes() == b"new at tokyo"
    volume = world.doc("volume/paris")
    assert volume is not None and volume["exit_scan"] == NOT_MOUNTED_EXIT
    assert "has no .syncplanet/volume.json" in volume["stderr_scan"]
    assert "not mounted" in volume["mountError"] and volume["agentStatus"] == "off"
    with world.store.read() as tx:
        status = {s.site: s for s in site_status(tx)}
    assert status["paris"].reachable is False and status["paris"].mount_error
    assert status["tokyo"].mount_error is None
    registry = _scrape(world).registry
    assert registry.get_sample_value("syncplanet_volume_up", {"site": "paris"}) == 0
    assert registry.get_sample_value("syncplanet_volume_mounted", {"site": "paris"}) == 0
    assert registry.get_sample_value("syncplanet_volume_mounted", {"site": "tokyo"}) == 1
    with world.store.read() as tx:
        (digest,) = plan_pass(tx, world.rt.clock())
    assert digest.subject == "[SyncPlanet] paris is not mounted"
    assert "has no .syncplanet/volume.json" in digest.body

    _remount(paris, share)
    _reconcile(world)
    volume = world.doc("volume/paris")
    assert volume is not None and volume["exit_scan"] == 0 and "mountError" not in volume
    assert volume["agentStatus"] == "on"
    assert (paris.root / "from-tokyo.exr").read_bytes() == b"new at tokyo"
    assert _deleted(world) == [] and _trashed(paris.root, tokyo.root, london.root) == []
    assert (
        _scrape(world).registry.get_sample_value("syncplanet_volume_mounted", {"site": "paris"})
        == 1
    )


@pytest.mark.ssh
def test_a_mass_deletion_is_held_until_confirmed_then_propagated(world: World) -> None:
    paris, tokyo, london = _production(world)
    _reconcile(world)
    gone = sorted((paris.root / "shots").rglob("*.exr"))[:60]  # 12 % > maxDeletionsPercent
    for path in gone:
        path.unlink()
    _reconcile(world)
    assert _deleted(world) == []
    assert _trashed(tokyo.root, london.root) == []
    volume = world.doc("volume/paris")
    assert volume is not None and volume["deletionsHeld"] == 60
    assert "maxDeletionsPercent (10%) of 500 files" in volume["deletionsHeldReason"]
    with world.store.read() as tx:
        status = {s.site: s for s in site_status(tx)}
    assert status["paris"].deletions_held == 60
    assert (
        _scrape(world).registry.get_sample_value(
            "syncplanet_scan_deletions_held", {"site": "paris"}
        )
        == 60
    )

    report = world.scan("paris", confirm_deletions=True)
    assert (report.status, report.actions, report.held) == (ScanStatus.DONE, {"delete": 60}, 0)
    volume = world.doc("volume/paris")
    assert volume is not None and "deletionsHeld" not in volume
    _reconcile(world)
    ids = {"/" + str(p.relative_to(paris.root)) for p in gone}
    assert set(_deleted(world)) == ids
    for site in (tokyo, london):
        assert len(_trashed(site.root)) == 60
        assert len(list((site.root / "shots").rglob("*.exr"))) == FILES - 60
    assert (
        _scrape(world).registry.get_sample_value(
            "syncplanet_scan_deletions_held", {"site": "paris"}
        )
        == 0
    )


@pytest.mark.ssh
def test_a_volume_override_of_the_absolute_limit(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True, maxDeletionsPerScan=2,
                         maxDeletionsPercent=100)  # fmt: skip
    for i in range(4):
        write(paris.root / f"f{i}.exr", b"x", mtime=PAST)
    world.scan("paris")
    for i in range(3):
        (paris.root / f"f{i}.exr").unlink()
    write(paris.root / "new.exr", b"y", mtime=PAST)
    held = world.scan("paris")
    assert (held.actions, held.held) == ({"publish": 1}, 3)  # the rest is written
    assert "more than maxDeletionsPerScan (2)" in held.stderr
    (paris.root / "f3.exr").unlink()  # one more gone since: more than was confirmed
    again = world.scan("paris", confirm_deletions=True)
    assert (again.actions, again.held) == ({}, 4)
    confirmed = world.scan("paris", confirm_deletions=True)
    assert (confirmed.actions, confirmed.held) == ({"delete": 4}, 0)


@pytest.mark.ssh
def test_another_volume_s_marker_is_not_mounted_until_adopted(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True)
    tokyo = world.volume("tokyo", enableDiscovery=True)
    write(paris.root / "a.exr", b"a", mtime=PAST)
    write(tokyo.root / "b.exr", b"b", mtime=PAST)
    world.scan("paris")
    world.scan("tokyo")
    shutil.copy(tokyo.root / MARKER, paris.root / MARKER)  # paris's url now shows tokyo
    before = world.snapshot()
    failed = world.scan("paris")
    assert (failed.status, failed.exit_code) == (ScanStatus.FAILED, NOT_MOUNTED_EXIT)
    assert "holds the marker of volume 'tokyo'" in failed.stderr
    assert world.snapshot() == before
    adopted = world.scan("paris", adopt=True)
    assert adopted.status is ScanStatus.DONE
    volume = world.doc("volume/paris")
    marker = json.loads((paris.root / MARKER).read_bytes())
    assert volume is not None and marker == {"name": "paris", "id": volume["volumeId"]}
    assert "mountError" not in volume and volume["agentStatus"] == "on"
    # forgetting the recorded id: the next contact records the marker found, unchanged
    world.put({**volume, "volumeId": None})
    assert world.scan("paris").status is ScanStatus.DONE
    again = world.doc("volume/paris")
    assert again is not None and again["volumeId"] == marker["id"]


# ---- the pure decisions ------------------------------------------------------------------

PARIS = Marker("paris", "id-1")


@pytest.mark.parametrize(
    ("found", "recorded", "verdict"),
    [
        (None, None, Verdict.FIRST_CONTACT),
        (PARIS, None, Verdict.RECORD),
        (Marker("tokyo", "id-9"), None, Verdict.FOREIGN),
        (PARIS, "id-1", Verdict.MOUNTED),
        (None, "id-1", Verdict.MISSING),
        (Marker("paris", "id-2"), "id-1", Verdict.FOREIGN),
    ],
)
def test_judge(found: Marker | None, recorded: str | None, verdict: Verdict) -> None:
    assert judge(found, recorded, "paris") is verdict


@pytest.mark.parametrize(
    ("data", "marker"),
    [
        (PARIS.render(), PARIS),
        (None, None),
        (b"", None),
        (b"not json", None),
        (b"[1]", None),
        (b'{"name": "paris"}', None),
        (b'{"name": "paris", "id": ""}', None),
        (b"\xff", None),
    ],
)
def test_parse_marker(data: bytes | None, marker: Marker | None) -> None:
    assert parse_marker(data) == marker


LIMITS = DeletionLimits(max_files=1000, max_percent=10)


@pytest.mark.parametrize(
    ("deletions", "tracked", "confirmed", "held"),
    [
        (0, 0, 0, False),
        (10, 100, 0, False),  # exactly 10 %: allowed
        (11, 100, 0, True),
        (1000, 100_000, 0, False),
        (1001, 100_000, 0, True),  # 1 %, but more than 1,000 files
        (60, 60, 0, True),  # the whole origin
        (60, 60, 60, False),  # confirmed
        (61, 60, 60, True),  # more than was confirmed
    ],
)
def test_held_reason(deletions: int, tracked: int, confirmed: int, held: bool) -> None:
    reason = held_reason("paris", deletions, tracked, LIMITS, confirmed=confirmed)
    assert (reason is not None) is held
    if reason:
        assert reason.startswith(f"{deletions} files gone") and "--confirm-deletions" in reason


@pytest.mark.parametrize(
    ("kind", "spec", "problems"),
    [
        (Kind.GLOBAL, {"maxDeletionsPerScan": 0, "maxDeletionsPercent": 100}, []),
        (Kind.GLOBAL, {"maxDeletionsPerScan": -1},
         [("spec.maxDeletionsPerScan", "Invalid value: -1: must be at least 0")]),
        (Kind.GLOBAL, {"maxDeletionsPercent": 101},
         [("spec.maxDeletionsPercent", "Invalid value: 101: must be at most 100")]),
        (Kind.GLOBAL, {"maxDeletionsPercent": 2.5},
         [("spec.maxDeletionsPercent", "Invalid value: 2.5: must be an integer")]),
        (Kind.VOLUME, {"url": "/srv/p/", "maxDeletionsPerScan": -1, "maxDeletionsPercent": -1}, []),
        (Kind.VOLUME, {"url": "/srv/p/", "maxDeletionsPerScan": 50, "maxDeletionsPercent": 5}, []),
        (Kind.VOLUME, {"url": "/srv/p/", "maxDeletionsPercent": -2},
         [("spec.maxDeletionsPercent", "Invalid value: -2: must be at least -1")]),
        (Kind.VOLUME, {"url": "/srv/p/", "maxDeletionsPerScan": "many"},
         [("spec.maxDeletionsPerScan", 'Invalid value: "many": must be an integer')]),
    ],
)  # fmt: skip
def test_the_guard_settings_are_validated_in_manifests(
    kind: Kind, spec: dict[str, object], problems: list[tuple[str, str]]
) -> None:
    assert check_spec(kind, spec) == problems


def test_a_volume_override_wins_over_the_global_limits() -> None:
    cfg = SyncConfig.from_docs([
        {"_id": "rsyncGlobalParameters", "maxDeletionsPerScan": 200},
        {"_id": "volume/paris", "url": "/p/", "maxDeletionsPercent": 50},
        {"_id": "volume/tokyo", "url": "/t/"},
    ])  # fmt: skip
    assert DeletionLimits.of(cfg, cfg.volumes["paris"]) == DeletionLimits(200, 50)
    assert DeletionLimits.of(cfg, cfg.volumes["tokyo"]) == DeletionLimits(200, 10)
