"""Scans of real sshd volumes, on SQLite and PostgreSQL: the tracker after each scan."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from reconciler.jobs.scan import ScanStatus, propagate_deletions
from reconciler.jobs.scan.compare import ActionKind
from reconciler.jobs.scan.tracked import PAGE
from reconciler.store import queue as q
from tests.scan.conftest import World, rsync_copy, write

pytestmark = pytest.mark.ssh
PAST = 1_600_000_000  # an mtime long before any scan (s)


def test_new_files_are_published_with_their_attributes(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True)
    world.volume("tokyo")
    write(paris.root / "shots/sh010/comp.exr", b"12345", mtime=PAST + 0.75)
    write(paris.root / "readme.txt", b"hi", mtime=PAST)
    before = int(time.time() * 1000)
    report = world.scan("paris")
    assert (report.status, report.listed, report.actions) == (ScanStatus.DONE, 2, {"publish": 2})
    doc = world.doc("/shots/sh010/comp.exr")
    assert doc is not None
    assert doc["time"] >= before and doc["synced_paris"] == doc["time"]
    assert {k: doc[k] for k in ("origin", "comment", "author", "file_size", "file_mtime")} == {
        "origin": "paris", "comment": "scanned at paris", "author": "support",
        "file_size": 5, "file_mtime": PAST * 1000 + 750,
    }  # fmt: skip
    volume = world.doc("volume/paris")
    assert volume is not None
    assert volume["exit_scan"] == 0 and volume["stderr_scan"] == ""
    assert volume["last_scan"] >= before and volume["scannedOnce"] >= before
    assert isinstance(volume["scan_duration"], float)
    gauge = world.rt.metrics.registry.get_sample_value(
        "syncplanet_scan_duration_seconds", {"site": "paris"}
    )
    assert gauge == volume["scan_duration"]
    with world.store.read() as tx:  # the hub now waits for both, tokyo for the hub
        emission = q.emission_queue(tx, "hub", "paris", 10, now=2 * before)
        assert [i.file_id for i in emission] == ["/readme.txt", "/shots/sh010/comp.exr"]


def test_a_rescan_that_finds_nothing_new_writes_nothing(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True)
    world.volume("tokyo")
    count = 2 * PAGE + 7  # the tracker side is read in pages: cross their edges
    for i in range(count):
        write(paris.root / f"d{i % 3}/f{i:05d}.dat", b"", mtime=PAST)
    assert world.scan("paris").count(ActionKind.PUBLISH) == count
    before = world.snapshot()
    again = world.scan("paris")
    assert (again.status, again.listed, again.actions) == (ScanStatus.DONE, count, {})
    assert world.snapshot() == before
    (paris.root / "d1/f02200.dat").unlink()
    write(paris.root / "d2/f04001.dat", b"changed")
    assert world.scan("paris").actions == {"delete": 1, "modify": 1}


def test_modifications_at_the_origin(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True)
    world.volume("tokyo")
    same_size = write(paris.root / "a.exr", b"aaaa", mtime=PAST)
    grown = write(paris.root / "b.exr", b"bbbb", mtime=PAST)
    subsecond = write(paris.root / "c.exr", b"cccc", mtime=PAST + 0.1)
    world.scan("paris")
    first = world.files()
    os.utime(same_size, (PAST + 60, PAST + 60))  # saved again, same size
    write(grown, b"bbbbbb", mtime=PAST)  # size changed, mtime put back
    os.utime(subsecond, (PAST + 0.9, PAST + 0.9))  # same whole second: not a change
    report = world.scan("paris")
    assert report.actions == {"modify": 2}
    now = world.files()
    for path, size, mtime in (("/a.exr", 4, PAST + 60), ("/b.exr", 6, PAST)):
        doc = now[path]
        assert doc["time"] > first[path]["time"]
        assert doc["modified_paris"] == doc["time"] == doc["synced_paris"]
        assert (doc["comment"], doc["origin"]) == ("modified at paris", "paris")
        assert (doc["file_size"], doc["file_mtime"]) == (size, mtime * 1000)
    assert now["/c.exr"] == first["/c.exr"]


def test_updated_files_discovery_can_be_switched_off(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True, enableDiscoveryUpdatedFiles=False)
    f = write(paris.root / "a.exr", b"aaaa", mtime=PAST)
    world.scan("paris")
    write(f, b"changed!")
    assert world.scan("paris").actions == {}


def test_a_delivered_copy_is_not_a_modification_but_a_change_there_is(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True)
    tokyo = world.volume("tokyo", enableDiscovery=True)
    write(paris.root / "shots/a b.exr", b"frame", mtime=PAST + 0.5)
    world.scan("paris")
    # what a reception does: rsync -a (mtime preserved), then synced_tokyo
    rsync_copy(world.keys, paris, tokyo, "shots/a b.exr")
    with world.store.write() as tx:
        tx.patch("/shots/a b.exr", {"synced_hub": world.rt.clock(),
                                    "synced_tokyo": world.rt.clock()})  # fmt: skip
    before = world.snapshot()
    assert world.scan("tokyo").actions == {}
    assert world.scan("paris").actions == {}
    assert world.snapshot() == before
    # an artist in tokyo saves a new version: tokyo becomes the origin
    write(tokyo.root / "shots/a b.exr", b"frame v2")
    assert world.scan("tokyo").actions == {"modify": 1}
    doc = world.doc("/shots/a b.exr")
    assert doc is not None
    assert (doc["origin"], doc["comment"], doc["file_size"]) == ("tokyo", "modified at tokyo", 8)
    assert doc["synced_paris"] < doc["time"]  # paris's copy is now outdated
    assert world.scan("paris").actions == {}  # the outdated copy is not a modification


def test_an_unrecorded_copy_of_the_current_version_is_recorded(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True)
    tokyo = world.volume("tokyo", enableDiscovery=True)
    write(paris.root / "a.exr", b"frame", mtime=PAST)
    world.scan("paris")
    rsync_copy(world.keys, paris, tokyo, "a.exr")  # copied by hand, not by the reconciler
    write(tokyo.root / "b.exr", b"other")
    with world.store.write() as tx:  # b.exr exists in the tracker with another version
        tx.insert({"_id": "/b.exr", "origin": "paris", "time": 1, "file_size": 9,
                   "file_mtime": PAST * 1000})  # fmt: skip
    assert world.scan("tokyo").actions == {"hold": 1}
    a, b = world.doc("/a.exr"), world.doc("/b.exr")
    assert a is not None and b is not None
    assert a["synced_tokyo"] >= a["time"] and "synced_tokyo" not in b


def test_deleted_at_origin_then_moved_to_trash_where_volumes_opt_in(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True, maxDeletionsPercent=100)
    tokyo = world.volume("tokyo", propagateDeletions=True)
    london = world.volume("london")
    for name in ("gone.exr", "kept.exr", "odd\nname $x.exr"):
        write(paris.root / "shots" / name, name, mtime=PAST)
    world.scan("paris")
    for site in (tokyo, london):
        for name in ("gone.exr", "odd\nname $x.exr"):
            rsync_copy(world.keys, paris, site, f"shots/{name}")
    stamp = world.rt.clock()
    with world.store.write() as tx:
        for name in ("gone.exr", "odd\nname $x.exr"):
            tx.patch(f"/shots/{name}", {"synced_hub": stamp, "synced_tokyo": stamp,
                                        "synced_london": stamp})  # fmt: skip
    (paris.root / "shots/gone.exr").unlink()
    (paris.root / "shots/odd\nname $x.exr").unlink()
    assert world.scan("paris").actions == {"delete": 2}
    gone = world.doc("/shots/gone.exr")
    assert gone is not None and gone["deleted"] is True and "synced_paris" not in gone
    with world.store.read() as tx:
        assert q.removal_queue(tx, "tokyo", 10) == [
            "/shots/gone.exr",
            "/shots/odd\nname $x.exr",
        ]
        assert q.removal_queue(tx, "london", 10) == []  # london keeps its copies
    assert propagate_deletions(world.rt, "london") == 0
    assert propagate_deletions(world.rt, "tokyo") == 2
    assert not (tokyo.root / "shots/gone.exr").exists()
    trashed = sorted(p.relative_to(tokyo.root) for p in tokyo.root.rglob("*") if p.is_file())
    trashed.remove(Path(".syncplanet/volume.json"))  # the volume marker, at first contact
    assert len(trashed) == 2
    assert all(str(p).startswith(".syncplanet/trash/") for p in trashed)
    assert {p.name for p in trashed} == {"gone.exr", "odd\nname $x.exr"}
    assert (london.root / "shots/gone.exr").read_text() == "gone.exr"
    gone = world.doc("/shots/gone.exr")
    assert gone is not None and "synced_tokyo" not in gone and "synced_london" in gone
    with world.store.read() as tx:
        assert q.removal_queue(tx, "tokyo", 10) == []
    assert propagate_deletions(world.rt, "tokyo") == 0
    assert world.scan("paris").actions == {}  # nothing more to say about deleted files


def test_a_copy_removed_by_hand_is_no_longer_counted(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True)
    tokyo = world.volume("tokyo", enableDiscovery=True)
    write(paris.root / "a.exr", b"frame", mtime=PAST)
    world.scan("paris")
    rsync_copy(world.keys, paris, tokyo, "a.exr")
    world.scan("tokyo")
    (tokyo.root / "a.exr").unlink()
    assert world.scan("tokyo").actions == {"lose": 1}
    doc = world.doc("/a.exr")
    assert doc is not None and "synced_tokyo" not in doc and not doc.get("deleted")


def test_deleted_files_discovery_can_be_switched_off(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True, enableDiscoveryDeletedFiles=False)
    write(paris.root / "a.exr", b"a")
    write(paris.root / "b.exr", b"b")
    world.scan("paris")
    (paris.root / "a.exr").unlink()
    assert world.scan("paris").actions == {}


def test_hostile_names_are_tracked_exactly(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True)
    names = ["-rf", "it's \"q\" $HOME `x`", "back\\slash", "new\nline", "tab\there",
             "café ☃.exr", " lead space", "*?[glob]"]  # fmt: skip
    for name in names:
        write(paris.root / "dir with space" / name, name)
    write(paris.root / "sub/.syncplanet/partial/half.exr", b"partial")  # any depth
    write(paris.root / ".syncplanet/trash/20250101T000000.000Z/old.exr", b"trash")
    (paris.root / "latin1").mkdir()
    (paris.root / "latin1" / "caf\xe9".encode("latin-1").decode("utf-8", "surrogateescape")
     ).write_bytes(b"?")  # fmt: skip
    report = world.scan("paris")
    assert report.count(ActionKind.PUBLISH) == len(names)
    assert report.skipped == 1
    assert set(world.files()) == {f"/dir with space/{n}" for n in names}
    for name in names:
        doc = world.doc(f"/dir with space/{name}")
        assert doc is not None and doc["file_size"] == len(name.encode())
    volume = world.doc("volume/paris")
    assert volume is not None and "not valid UTF-8" in volume["stderr_scan"]
    assert "latin1/caf\\xe9" in volume["stderr_scan"] and volume["exit_scan"] == 0


def test_include_exclude_and_excluded_files(world: World) -> None:
    world.globals(includePatternRules="/shots/**\n/edit/*.mov", excludePatternRules="*.tmp, cache/",
                  excludedFiles="Thumbs.db")  # fmt: skip
    paris = world.volume("paris", enableDiscovery=True)
    for rel in ("shots/a.exr", "shots/a.tmp", "shots/Thumbs.db", "shots/cache/x.exr",
                "edit/cut.mov", "edit/cut.txt", "edit/deep/cut.mov", "other/b.exr"):  # fmt: skip
        write(paris.root / rel, rel)
    world.scan("paris")
    assert set(world.files()) == {"/shots/a.exr", "/edit/cut.mov"}
    # a tracked file out of scope is not judged: its absence is not a deletion
    with world.store.write() as tx:
        tx.insert({"_id": "/other/c.exr", "origin": "paris", "time": 1})
    assert world.scan("paris").actions == {}


def test_image_sequences_are_tracked_as_packages(world: World) -> None:
    world.globals(packagePatternRules="*.exr")
    paris = world.volume(
        "paris", enableDiscovery=True, enableDiscoveryPackages=True, maxDeletionsPercent=100
    )
    seq = paris.root / "seq/sh010"
    for i in range(1, 4):
        write(seq / f"comp.{i:04d}.exr", b"f" * 10, mtime=PAST + i)
    write(seq / "notes.txt", b"n" * 3, mtime=PAST)
    write(seq / "sub/other.txt", b"o", mtime=PAST)
    write(paris.root / "single.exr", b"s", mtime=PAST)  # at the root: a plain file
    assert world.scan("paris").actions == {"publish": 3}
    files = world.files()
    assert set(files) == {"/seq/sh010/", "/seq/sh010/sub/other.txt", "/single.exr"}
    package = files["/seq/sh010/"]
    assert (package["file_size"], package["file_mtime"]) == (33, (PAST + 3) * 1000)
    assert world.scan("paris").actions == {}
    write(seq / "comp.0004.exr", b"f" * 10, mtime=PAST + 4)  # a frame added
    assert world.scan("paris").actions == {"modify": 1}
    grown = world.doc("/seq/sh010/")
    assert grown is not None
    assert (grown["file_size"], grown["file_mtime"]) == (43, (PAST + 4) * 1000)
    os.utime(seq / "comp.0002.exr", (PAST + 99, PAST + 99))  # a frame rendered again
    assert world.scan("paris").actions == {"modify": 1}
    for frame in seq.glob("*.exr"):
        frame.unlink()
    # a folder tracked as a package stays one while files remain directly inside it
    assert world.scan("paris").actions == {"modify": 1}
    shrunk = world.doc("/seq/sh010/")
    assert shrunk is not None and shrunk["file_size"] == 3
    (seq / "notes.txt").unlink()
    assert world.scan("paris").actions == {"delete": 1}
    assert set(world.files()) == {"/seq/sh010/", "/seq/sh010/sub/other.txt", "/single.exr"}


def test_a_delivered_package_is_recognised_where_package_discovery_is_off(world: World) -> None:
    world.globals(packagePatternRules="*.exr")
    paris = world.volume("paris", enableDiscovery=True, enableDiscoveryPackages=True)
    tokyo = world.volume("tokyo", enableDiscovery=True)
    for i in range(1, 3):
        write(paris.root / f"seq/comp.{i}.exr", b"f", mtime=PAST + i)
    world.scan("paris")
    for rel in ("seq/comp.1.exr", "seq/comp.2.exr"):
        rsync_copy(world.keys, paris, tokyo, rel)
    assert world.scan("tokyo").actions == {"hold": 1}  # the package, not two new files
    assert set(world.files()) == {"/seq/"}
    assert world.scan("tokyo").actions == {}
    (tokyo.root / "seq/comp.2.exr").unlink()
    (tokyo.root / "seq/comp.1.exr").unlink()
    write(tokyo.root / "elsewhere.txt", b"e")
    assert world.scan("tokyo").actions == {"lose": 1, "publish": 1}


def test_a_package_copy_elsewhere_goes_to_trash_but_not_its_subfolders(world: World) -> None:
    world.globals(packagePatternRules="*.exr")
    paris = world.volume(
        "paris", enableDiscovery=True, enableDiscoveryPackages=True, maxDeletionsPercent=100
    )
    tokyo = world.volume("tokyo", propagateDeletions=True)
    for i in range(1, 3):
        write(paris.root / f"seq/comp.{i}.exr", b"f", mtime=PAST)
    write(paris.root / "other.txt", b"o")
    world.scan("paris")
    for rel in ("seq/comp.1.exr", "seq/comp.2.exr"):
        rsync_copy(world.keys, paris, tokyo, rel)
    write(tokyo.root / "seq/sub/keep.txt", b"k")
    with world.store.write() as tx:
        tx.patch("/seq/", {"synced_tokyo": world.rt.clock()})
    for frame in (paris.root / "seq").glob("*.exr"):
        frame.unlink()
    assert world.scan("paris").actions == {"delete": 1}
    assert propagate_deletions(world.rt, "tokyo") == 1
    left = sorted(str(p.relative_to(tokyo.root)) for p in tokyo.root.rglob("*") if p.is_file())
    left.remove(".syncplanet/volume.json")  # the volume marker, written at first contact
    assert left[-1] == "seq/sub/keep.txt"
    assert [p.rsplit("/", 2)[1:] for p in left[:-1]] == [["seq", "comp.1.exr"],
                                                        ["seq", "comp.2.exr"]]  # fmt: skip
    assert all(p.startswith(".syncplanet/trash/") for p in left[:-1])


def test_ignore_existing_files_records_them_without_publishing(world: World) -> None:
    world.globals(ignoreExistingFiles=True)
    paris = world.volume("paris", enableDiscovery=True)
    write(paris.root / "legacy/old.exr", b"old", mtime=PAST)
    write(paris.root / "shared.exr", b"local version", mtime=PAST)
    write(paris.root / "stale.exr", b"stale", mtime=PAST)
    with world.store.write() as tx:  # tracked, published elsewhere
        tx.insert_many([
            {"_id": "/shared.exr", "origin": "tokyo", "time": 1},  # version not known yet
            {"_id": "/stale.exr", "origin": "tokyo", "time": 1, "file_size": 1,
             "file_mtime": 1000},  # known, and not the version found here
        ])  # fmt: skip
    first = world.scan("paris")
    assert first.actions == {"hold": 1}
    shared, stale = world.doc("/shared.exr"), world.doc("/stale.exr")
    assert shared is not None and shared["synced_paris"] > shared["time"]
    assert stale is not None and "synced_paris" not in stale
    assert world.doc("/legacy/old.exr") is None
    write(paris.root / "new.exr", b"new")  # saved after the first scan
    assert world.scan("paris").actions == {"publish": 1}
    assert set(world.files()) == {"/shared.exr", "/stale.exr", "/new.exr"}
    assert world.scan("paris").actions == {}


def test_an_unreachable_volume_changes_nothing(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True)
    write(paris.root / "a.exr", b"a")
    world.scan("paris")
    before = world.snapshot()
    paris.stop()
    report = world.scan("paris")
    assert (report.status, report.exit_code) == (ScanStatus.FAILED, 255)
    assert world.snapshot() == before  # not "everything deleted"
    volume = world.doc("volume/paris")
    assert volume is not None and volume["exit_scan"] == 255 and volume["stderr_scan"]
    paris.start()
    assert world.scan("paris").status is ScanStatus.DONE


def test_a_stored_url_with_an_option_in_it_fails_the_scan_and_runs_nothing(
    world: World, tmp_path: Path
) -> None:
    """A URL written through the API (not validated as manifests are) is refused where the
    command is built: the scan fails with the reason, and no ssh option is ever run."""
    paris = world.volume("paris", enableDiscovery=True)
    write(paris.root / "a.exr", b"a")
    command = quote(f"touch {tmp_path}/pwned", safe="")
    evil = f"ssh://-oProxyCommand={command}@127.0.0.1:{paris.port}{paris.root}/"
    world.put({"_id": "volume/paris", "name": "paris", "url": evil, "enableDiscovery": True})
    report = world.scan("paris")
    assert (report.status, report.exit_code) == (ScanStatus.FAILED, 2)
    assert 'bad url: the user must not start with "-"' in report.stderr
    volume = world.doc("volume/paris")
    assert volume is not None and "bad url" in volume["stderr_scan"]
    assert world.files() == {} and not list(tmp_path.glob("pwned*"))


def test_a_failing_find_or_an_empty_root_changes_nothing(world: World) -> None:
    paris = world.volume("paris", enableDiscovery=True)
    write(paris.root / "a/b.exr", b"a")
    world.scan("paris")
    before = world.snapshot()
    paris.root.rename(paris.dir / "elsewhere")  # the marker cannot be read: no root
    failed = world.scan("paris")
    assert (failed.status, failed.exit_code) == (ScanStatus.FAILED, 3)
    assert "does not exist" in failed.stderr
    assert world.snapshot() == before
    (paris.dir / "elsewhere").rename(paris.root)
    (paris.root / "a/b.exr").unlink()
    (paris.root / "a").rmdir()  # the root is empty now, as an unmounted share looks
    empty = world.scan("paris")
    assert (empty.status, empty.exit_code) == (ScanStatus.FAILED, 3)
    assert "is the storage mounted" in empty.stderr
    assert world.snapshot() == before


def test_a_listing_that_fails_half_way_changes_nothing(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """find lists most of the volume, then fails (an unreadable folder): the entries that
    streamed in before the exit status are compared but never written."""
    root = tmp_path / "studio"  # a volume mounted on the hub host: listed by a local `sh`
    world.put({"_id": "volume/studio", "name": "studio", "url": f"{root}/",
               "enableDiscovery": True})  # fmt: skip
    for i in range(3000):  # ~150 KB of listing: several chunks reach the compare first
        write(root / f"shots/plate-with-a-long-name-{i:05d}.exr", b"", mtime=PAST)
    for i in range(10):
        write(root / f"secret/{i}.exr", b"s", mtime=PAST)
    assert world.scan("studio").actions == {"publish": 3010}
    write(root / "shots/new.exr", b"new")
    before = world.snapshot()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    find = bin_dir / "find"  # the real find, but `secret/` is unreadable
    find.write_text(
        "#!/bin/sh\n"
        f'{shutil.which("find")} "$@" | grep -zv /secret/\n'
        "echo \"find: '$1/secret': Permission denied\" >&2\n"
        "exit 1\n"
    )
    find.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    failed = world.scan("studio")
    assert (failed.status, failed.exit_code, failed.actions) == (ScanStatus.FAILED, 1, {})
    assert "Permission denied" in failed.stderr
    assert world.snapshot() == before  # no publish of new.exr, no deletion of secret/
    monkeypatch.undo()
    assert world.scan("studio").actions == {"publish": 1}


def test_a_listing_out_of_order_stops_the_command_and_changes_nothing(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge needs byte order: a listing that breaks it fails the scan at once."""
    root = tmp_path / "studio"
    world.put({"_id": "volume/studio", "name": "studio", "url": f"{root}/",
               "enableDiscovery": True})  # fmt: skip
    for i in range(3000):
        write(root / f"plates/plate-with-a-long-name-{i:05d}.exr", b"", mtime=PAST)
    assert world.scan("studio").actions == {"publish": 3000}
    write(root / "plates/new.exr", b"new")
    before = world.snapshot()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sort = bin_dir / "sort"  # a sort that gets the order backwards
    sort.write_text(f"#!/bin/sh\nexec {shutil.which('sort')} -z -r\n")
    sort.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    failed = world.scan("studio")
    assert (failed.status, failed.exit_code) == (ScanStatus.FAILED, 1)
    assert "out of order" in failed.stderr
    assert world.snapshot() == before
    monkeypatch.undo()
    assert world.scan("studio").actions == {"publish": 1}


def test_disabled_discovery_does_nothing(world: World) -> None:
    world.volume("paris")
    world.volume("tokyo", enableDiscovery=True)
    world.globals(enableScans=False)
    assert world.scan("paris").status is ScanStatus.DISABLED
    assert world.scan("tokyo").status is ScanStatus.DISABLED
    with pytest.raises(KeyError):
        world.scan("nowhere")
