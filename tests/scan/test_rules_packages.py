"""Which files a scan tracks, and packages folded in: pure cases as data."""

from __future__ import annotations

import pytest

from reconciler.core.kinds import GlobalParameters
from reconciler.jobs.scan.listing import EntryKind, Listed
from reconciler.jobs.scan.packages import arrange, package_folders
from reconciler.jobs.scan.rules import ScanRules, ancestors, folder_of


def rules(packages_enabled: bool, **values: str) -> ScanRules:
    return ScanRules.from_globals(
        GlobalParameters.from_stored(values), packages_enabled=packages_enabled
    )


def test_folders() -> None:
    assert folder_of("/a/b/c.exr") == "/a/b/"
    assert folder_of("/top") == "/"
    assert ancestors("/a/b/") == ["/a/", "/a/b/"]
    assert ancestors("/") == []


@pytest.mark.parametrize(
    ("values", "path", "tracked"),
    [
        ({}, "/any/thing.txt", True),
        ({"excludePatternRules": "*.tmp"}, "/a/b.tmp", False),
        ({"excludePatternRules": "*.tmp"}, "/a/b.tmpx", True),
        ({"excludedFiles": "Thumbs.db, .DS_Store"}, "/shots/Thumbs.db", False),
        ({"excludedFiles": "Thumbs.db, .DS_Store"}, "/.DS_Store", False),
        ({"excludedFiles": "Thumbs.db"}, "/shots/NotThumbs.db", True),
        # a folder rule removes everything below the folder, at any depth
        ({"excludePatternRules": "cache/"}, "/a/cache/b/c.exr", False),
        ({"excludePatternRules": "cache/"}, "/a/cache", True),  # a file named cache
        ({"excludePatternRules": "/tmp/**"}, "/tmp/x/y", False),
        ({"excludePatternRules": "/tmp/**"}, "/shots/tmp/y", True),
        # include rules restrict; exclusion wins
        ({"includePatternRules": "/shots/**"}, "/shots/a/b.exr", True),
        ({"includePatternRules": "/shots/**"}, "/edit/a.mov", False),
        ({"includePatternRules": "*.exr\n*.mov"}, "/edit/a.mov", True),
        ({"includePatternRules": "renders/"}, "/x/renders/a/b.exr", True),
        ({"includePatternRules": "/shots/**", "excludePatternRules": "*.tmp"},
         "/shots/a.tmp", False),
        ({"includePatternRules": "# comment only\n"}, "/any", True),
    ],
)  # fmt: skip
def test_pattern_rules(values: dict[str, str], path: str, tracked: bool) -> None:
    assert rules(False, **values).tracks(path) is tracked


def test_package_scope_ignores_include_rules_but_not_exclusions() -> None:
    r = rules(True, includePatternRules="*.exr", excludePatternRules="/tmp/**")
    assert r.in_scope("/seq/a/")
    assert not r.in_scope("/tmp/seq/")
    assert rules(False).in_scope("/seq/a/")  # a tracked package is judged everywhere
    assert not r.in_scope("/")


def L(path: str, size: int = 1, mtime: int = 1000, kind: EntryKind = EntryKind.FILE) -> Listed:
    return Listed(path, size, mtime, kind)


# a sorted listing (byte order, as `LC_ALL=C sort` gives it)
LISTING = [
    L("/a.txt"),
    L("/seq/sh010/f.0001.exr", 10, 5000),
    L("/seq/sh010/f.0002.exr", 10, 7000),
    L("/seq/sh010/notes.txt", 3, 9000),  # not an exr: still part of the package
    L("/seq/sh010/sub/f.0001.exr", 4, 1000),  # a sub-folder is its own package
    L("/seq/sh010/sub2/readme", 2, 1000),  # no exr inside: files on their own
    L("/seq/sh010/zz.tmp", 1, 2000),  # excluded, still inside the folder
    L("/seq/sh020/f.0001.exr", 1, 1000),
    L("/seq/sh020/tmp/t.exr", 1, 1000),
    L("/z.exr", 6, 3000),  # at the root: its folder '/' is no package
]


def test_package_folders_sum_sizes_and_take_the_newest_mtime() -> None:
    r = rules(True, packagePatternRules="*.exr", excludePatternRules="*.tmp")
    assert package_folders(LISTING, r) == {
        "/seq/sh010/": (24, 9000),
        "/seq/sh010/sub/": (4, 1000),
        "/seq/sh020/": (1, 1000),
        "/seq/sh020/tmp/": (1, 1000),
    }


def test_arrange_yields_packages_in_order_and_members_as_present() -> None:
    r = rules(True, packagePatternRules="*.exr", excludePatternRules="*.tmp")
    out = list(arrange(LISTING, r, package_folders(LISTING, r)))
    assert out == [
        L("/a.txt"),
        L("/seq/sh010/", 24, 9000, EntryKind.PACKAGE),
        L("/seq/sh010/f.0001.exr", 10, 5000, EntryKind.MEMBER),
        L("/seq/sh010/f.0002.exr", 10, 7000, EntryKind.MEMBER),
        L("/seq/sh010/notes.txt", 3, 9000, EntryKind.MEMBER),
        L("/seq/sh010/sub/", 4, 1000, EntryKind.PACKAGE),
        L("/seq/sh010/sub/f.0001.exr", 4, 1000, EntryKind.MEMBER),
        L("/seq/sh010/sub2/readme", 2, 1000),
        L("/seq/sh010/zz.tmp", 1, 2000, EntryKind.MEMBER),
        L("/seq/sh020/", 1, 1000, EntryKind.PACKAGE),
        L("/seq/sh020/f.0001.exr", 1, 1000, EntryKind.MEMBER),
        L("/seq/sh020/tmp/", 1, 1000, EntryKind.PACKAGE),
        L("/seq/sh020/tmp/t.exr", 1, 1000, EntryKind.MEMBER),
        L("/z.exr", 6, 3000),
    ]
    assert [e.id for e in out] == sorted(e.id for e in out)


def test_packages_off_or_without_rules_leave_files_alone() -> None:
    for r in (rules(False, packagePatternRules="*.exr"), rules(True)):
        assert package_folders(LISTING, r) == {}
        assert list(arrange(LISTING, r, {})) == LISTING


def test_a_package_needs_a_tracked_matching_file() -> None:
    r = rules(True, packagePatternRules="*.exr", excludePatternRules="/seq/sh020/**")
    assert set(package_folders(LISTING, r)) == {"/seq/sh010/", "/seq/sh010/sub/"}


def test_packages_the_tracker_knows_are_folded_even_with_discovery_off() -> None:
    r = ScanRules.from_globals(
        GlobalParameters(packagePatternRules="*.exr"),
        packages_enabled=False,
        known_packages=frozenset({"/seq/sh020/"}),
    )
    assert package_folders(LISTING, r) == {"/seq/sh020/": (1, 1000)}
    out = list(arrange(LISTING, r, package_folders(LISTING, r)))
    assert L("/seq/sh020/", 1, 1000, EntryKind.PACKAGE) in out
    assert L("/seq/sh020/f.0001.exr", 1, 1000, EntryKind.MEMBER) in out
    assert L("/seq/sh010/f.0001.exr", 10, 5000) in out  # unknown folder: plain files
