"""The `SiteTransport` contract, run against every implementation (see conftest.py).

Assertions are on files on disk and on outcomes: a batch arrives byte for byte with its
mtime, every arrival is verified per file (a failed file never hides the others, nor is it
reported), what a transfer overwrites or removes is kept in trash, old trash is purged, the
listing is complete and sorted whatever the names, and a site that is down is reported as
such, never as an empty site.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.core.domain import RESERVED_DIR, relpath
from reconciler.jobs.scan.listing import Listed, ListingParser
from reconciler.transport.options import NO_OPTIONS
from reconciler.transport.protocol import Batch
from reconciler.transport.shells import CommandFailed
from reconciler.transport.trash import trash_stamp
from tests.transport.conftest import NOW, Site

MTIME = 1_600_000_000
DAY_MS = 86_400_000
# Names a shell, rsync's filters or its output escaping could misread; one is not UTF-8.
HOSTILE = [
    "/-dash",
    '/a b/it\'s "quoted" $HOME `x`',
    "/bad\udcffx",
    "/lit\\#012x",
    "/new\nline",
    "/p|ipe",
    "/star*?[x]",
    "/t\tab",
    "/é ü.exr",
]


def put(root: Path, file_id: str, data: bytes, mtime: int = MTIME) -> Path:
    path = root / relpath(file_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def trash(root: Path, now: int = NOW) -> Path:
    return root / RESERVED_DIR / "trash" / trash_stamp(now)


def same(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes() and int(a.stat().st_mtime) == int(b.stat().st_mtime)


def test_receive_delivers_a_batch_and_verifies_every_file(site: Site) -> None:
    for i, file_id in enumerate(HOSTILE):
        put(site.hub, file_id, f"version {i}".encode(), MTIME + i)
    out = site.transport.receive(site.batch(*HOSTILE))
    assert out.exit_code == 0, out.stderr
    assert set(out.arrived) == set(HOSTILE)
    for i, file_id in enumerate(HOSTILE):
        assert same(site.hub / relpath(file_id), site.root / relpath(file_id))
        facts = out.arrived[file_id]
        assert (facts.size, facts.mtime_ms) == (len(f"version {i}"), (MTIME + i) * 1000)
        assert facts.sent_bytes == facts.size
    again = site.transport.receive(site.batch(*HOSTILE))  # level-based: nothing left to move
    assert set(again.arrived) == set(HOSTILE)
    assert all(f.sent_bytes == 0 for f in again.arrived.values())


def test_send_brings_files_and_a_package_to_the_hub(site: Site) -> None:
    put(site.root, "/seq/f1.exr", b"one")
    put(site.root, "/seq/f2.exr", b"three", MTIME + 5)
    put(site.root, "/seq/sub/deeper.exr", b"not in the package")
    put(site.root, "/x/-one", b"single")
    out = site.transport.send(site.batch("/seq/", "/x/-one"))
    assert out.exit_code == 0, out.stderr
    assert set(out.arrived) == {"/seq/", "/x/-one"}
    package = out.arrived["/seq/"]
    assert (package.size, package.mtime_ms) == (8, (MTIME + 5) * 1000)  # all its files
    for rel in ("seq/f1.exr", "seq/f2.exr", "x/-one"):
        assert same(site.root / rel, site.hub / rel)
    assert not (site.hub / "seq" / "sub").exists()  # packages are not recursive


def test_a_failed_file_neither_hides_the_others_nor_is_reported(site: Site) -> None:
    put(site.hub, "/ok/a", b"a")
    put(site.hub, "/ok/b", b"b")
    out = site.transport.receive(site.batch("/ok/a", "/gone", "/ok/b"))
    assert out.exit_code != 0 and not out.unreachable
    assert set(out.arrived) == {"/ok/a", "/ok/b"}
    assert (site.root / "ok" / "b").read_bytes() == b"b"
    assert not (site.root / "gone").exists()


def test_invalid_ids_never_reach_a_command(site: Site) -> None:
    put(site.hub, "/ok", b"fine")
    out = site.transport.receive(site.batch("/ok", "/../escape", "relative"))
    assert set(out.arrived) == {"/ok"}
    assert not (site.root.parent / "escape").exists()


def test_what_a_transfer_overwrites_is_kept_in_trash(site: Site) -> None:
    put(site.root, "/a/f", b"old at the site")
    put(site.hub, "/a/f", b"new from the hub", MTIME + 10)
    out = site.transport.receive(site.batch("/a/f", now=NOW))
    assert set(out.arrived) == {"/a/f"}
    assert (site.root / "a" / "f").read_bytes() == b"new from the hub"
    assert (trash(site.root, NOW) / "a" / "f").read_bytes() == b"old at the site"
    # the same at the hub's end of an emission
    put(site.root, "/b/g", b"newer at the site", MTIME + 20)
    put(site.hub, "/b/g", b"older at the hub")
    out = site.transport.send(site.batch("/b/g", now=NOW + 1))
    assert set(out.arrived) == {"/b/g"}
    assert (site.hub / "b" / "g").read_bytes() == b"newer at the site"
    assert (trash(site.hub, NOW + 1) / "b" / "g").read_bytes() == b"older at the hub"


def test_move_to_trash_keeps_every_copy_and_spares_a_package_s_sub_folders(site: Site) -> None:
    put(site.root, "/d/f1", b"first")
    put(site.root, "/d/-f2\nx", b"second")
    put(site.root, "/pkg/m1", b"member")
    put(site.root, "/pkg/sub/keep", b"not a member")
    ids = ["/d/f1", "/d/-f2\nx", "/pkg/", "/never/there"]
    out = site.transport.move_to_trash(ids, options=NO_OPTIONS, now=NOW)
    assert (sorted(out.moved), out.unreachable, out.errors) == (sorted(ids), False, [])
    assert not (site.root / "d" / "f1").exists() and not (site.root / "pkg" / "m1").exists()
    kept = trash(site.root, NOW)
    assert (kept / "d" / "f1").read_bytes() == b"first"
    assert (kept / "d" / "-f2\nx").read_bytes() == b"second"
    assert (kept / "pkg" / "m1").read_bytes() == b"member"
    assert (site.root / "pkg" / "sub" / "keep").read_bytes() == b"not a member"


def test_purge_deletes_only_our_trash_folders_older_than_the_limit(site: Site) -> None:
    old, recent = trash(site.root, NOW - 10 * DAY_MS), trash(site.root, NOW - DAY_MS)
    foreign = site.root / RESERVED_DIR / "trash" / "kept by someone"
    for folder in (old, recent, foreign):
        put(folder, "/a/file", b"trash")
    assert site.transport.purge_trash(now=NOW, max_age_days=7) == 1
    assert not old.exists() and recent.exists() and foreign.exists()
    assert site.transport.purge_trash(now=NOW, max_age_days=7) == 0


def test_listing_is_complete_sorted_and_skips_reserved_folders(site: Site) -> None:
    for i, file_id in enumerate(HOSTILE):
        put(site.root, file_id, b"x" * i, MTIME + i)
    put(site.root, f"/{RESERVED_DIR}/trash/1/old", b"trash")
    put(site.root, f"/a b/{RESERVED_DIR}/partial/p", b"partial")
    os.symlink("-dash", site.root / "link")  # not a file to track
    parser = ListingParser()
    entries = [entry for chunk in site.transport.list_files() for entry in parser.feed(chunk)]
    parser.close()
    utf8 = [f for f in HOSTILE if f != "/bad\udcffx"]
    expected = [Listed(f, HOSTILE.index(f), (MTIME + HOSTILE.index(f)) * 1000) for f in utf8]
    assert entries == sorted(expected, key=lambda e: e.id.encode())
    assert (parser.entries, parser.skipped) == (len(utf8), 1)


def test_a_site_that_is_down_is_unreachable_and_nothing_is_pretended(site: Site) -> None:
    assert site.transport.reachable()
    put(site.hub, "/f", b"data")
    put(site.root, "/old", b"copy")
    site.take_down()
    assert not site.transport.reachable()
    with pytest.raises(CommandFailed):
        list(site.transport.list_files())  # an error, never an empty listing
    out = site.transport.receive(site.batch("/f"))
    assert out.exit_code != 0 and out.arrived == {}
    moved = site.transport.move_to_trash(["/old"], options=NO_OPTIONS, now=NOW)
    assert moved.moved == [] and moved.errors
    assert site.transport.purge_trash(now=NOW + 30 * DAY_MS, max_age_days=1) == 0
    assert not site.root.exists() or (site.root / "old").exists()  # no root made up
    if site.kind == "ssh":
        assert out.unreachable and moved.unreachable


def test_the_volume_marker_is_created_once_replaced_on_demand_and_never_listed(
    site: Site,
) -> None:
    marker = site.root / RESERVED_DIR / "volume.json"
    assert site.transport.read_marker() is None
    site.transport.write_marker(b'{"name": "paris", "id": "one"}\n')
    assert site.transport.read_marker() == b'{"name": "paris", "id": "one"}\n'
    with pytest.raises(CommandFailed):  # created only if absent: the first writer wins
        site.transport.write_marker(b'{"name": "paris", "id": "two"}\n')
    assert marker.read_bytes() == b'{"name": "paris", "id": "one"}\n'
    site.transport.write_marker(b'it\'s "new"\n', replace=True)
    assert site.transport.read_marker() == b'it\'s "new"\n'
    assert [p.name for p in marker.parent.iterdir()] == ["volume.json"]  # no temp left
    assert list(site.transport.list_files()) in ([], [b""])  # reserved: never listed


def test_no_marker_is_read_or_written_on_a_site_that_is_down(site: Site) -> None:
    site.take_down()
    with pytest.raises(CommandFailed):
        site.transport.read_marker()
    with pytest.raises(CommandFailed):
        site.transport.write_marker(b"{}", replace=True)
    marker = site.root / RESERVED_DIR / "volume.json"
    assert not site.root.exists() or not marker.exists()  # no root made up


def test_a_batch_split_across_streams_is_delivered_and_verified_file_by_file(
    site: Site,
) -> None:
    ids = [f"/s/f{i:02d}" for i in range(12)]
    sizes = {f: 1000 * (i + 1) for i, f in enumerate(ids)}
    for f in ids:
        put(site.hub, f, os.urandom(sizes[f]))
    put(site.root, "/s/f03", b"old at the site")
    batch = Batch([*ids, "/s/gone"], hub_root=f"{site.hub}/", now=NOW, streams=4, sizes=sizes)
    out = site.transport.receive(batch)
    assert out.exit_code != 0 and not out.unreachable  # /s/gone failed in its stream only
    assert set(out.arrived) == set(ids)
    assert all(same(site.hub / relpath(f), site.root / relpath(f)) for f in ids)
    assert (trash(site.root, NOW) / "s" / "f03").read_bytes() == b"old at the site"
    assert sum(f.sent_bytes for f in out.arrived.values()) == sum(sizes.values())
