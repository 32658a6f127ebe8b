"""File id rules (architecture.md#file-keys) and rsync-style globs, as data."""

from __future__ import annotations

import pytest

from reconciler.core.domain import InvalidId, check_file_id
from reconciler.core.patterns import compile_glob, parse_rules


@pytest.mark.parametrize(
    "file_id",
    ["/a", "/a/b.exr", "/seq/sh010/", "/with space/é'$\\x", "/-leading-dash", "/a..b/c"],
)
def test_valid_ids(file_id: str) -> None:
    assert check_file_id(file_id) == file_id


@pytest.mark.parametrize(
    "file_id",
    ["a", "/", "/a/../b", "/..", "/a/./b", "//a", "/a//b", "/a\x00b", "/.syncplanet/trash/x"],
)
def test_invalid_ids(file_id: str) -> None:
    with pytest.raises(InvalidId):
        check_file_id(file_id)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/renders/**", "/renders/a/b.exr", True),
        ("/renders/**", "/renders/", True),
        ("/renders/**", "/rendersX/a", False),
        ("*.exr", "/a/b/c.exr", True),
        ("*.exr", "/c.exr", True),
        ("*.exr", "/a/b.exr.bak", False),
        ("/a/*/c", "/a/b/c", True),
        ("/a/*/c", "/a/b/x/c", False),
        ("/a/**/c", "/a/c", True),
        ("/a/**/c", "/a/x/y/c", True),
        ("cache/", "/x/cache/", True),
        ("cache/", "/x/cache", False),
        ("/sh[0-9]?.ma", "/sh1a.ma", True),
        ("/sh[!0-9].ma", "/sh1.ma", False),
        ("*wip*", "/pub/asset_wip_v2.ma", True),
    ],
)
def test_globs(pattern: str, path: str, matches: bool) -> None:
    assert compile_glob(pattern).matches(path) is matches


def test_rule_strings_split_on_lines_and_commas_and_skip_comments() -> None:
    rules = parse_rules("# comment\n*.tmp, *.bak\n\n/cache/**")
    assert [g.pattern for g in rules] == ["*.tmp", "*.bak", "/cache/**"]
