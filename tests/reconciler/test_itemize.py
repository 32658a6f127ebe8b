"""rsync's itemized output, parsed from captured text (tests/reconciler/data/*.out).

The captures are real rsync 3.5 runs over SSH with `TZ=UTC0`, our `--out-format` and
`--info=name2`, and `-v` (whose chatter must be skipped), of one batch: hostile names (a
newline, a tab, a literal `\\#012`, a byte that is not UTF-8, a leading dash, non-ASCII), the
package `a/pkg/` (with a sub-folder excluded by its rule) and a missing source.
`pull_with_missing.out` is the real run, `dry_all_arrived.out` the `--dry-run` right after,
`dry_one_changed.out` a dry run after `a/pkg/f1` was altered at the destination.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.transport.itemize import ItemLine, arrived, parse_itemized, unescape

DATA = Path(__file__).parent / "data"
HOSTILE = [
    "/-dash",
    "/bad\udcffx",  # not UTF-8: kept as a surrogate escape, round-trips to the same bytes
    "/lit\\#012x",
    "/new\nline",
    "/ok\\#x",
    "/p|ipe",
    "/t\tab",
    "/é ü.exr",
]
BATCH = [*HOSTILE, "/a/pkg/", "/missing"]
MTIME = 1709288430000  # 2024-03-01 10:20:30 UTC


def lines(name: str) -> list[ItemLine]:
    return parse_itemized((DATA / name).read_bytes())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"plain", "plain"),
        (b"new\\#012line", "new\nline"),
        (b"lit\\#134#012x", "lit\\#012x"),  # a literal backslash-hash-digits in a name
        (b"ok\\#x", "ok\\#x"),  # not followed by 3 octal digits: not an escape
        (b"bad\\#377x", "bad\udcffx"),
        (b"cr\\#015x", "cr\rx"),
        ("é ü".encode(), "é ü"),
        (b"\\#303\\#251", "é"),  # escaped UTF-8 (C locale) decodes to the same name
    ],
)
def test_unescape(raw: bytes, expected: str) -> None:
    assert unescape(raw) == expected


def test_parser_reads_every_entry_and_skips_rsync_chatter() -> None:
    parsed = lines("pull_with_missing.out")
    names = [p.name for p in parsed]
    assert sorted(names) == sorted(
        [f[1:] for f in HOSTILE] + ["a/", "a/pkg/", "a/pkg/f1", "a/pkg/f2"]
    )
    by_name = {p.name: p for p in parsed}
    assert by_name["a/pkg/f2"].size == 2
    assert by_name["a/pkg/f2"].mtime_ms == MTIME
    assert by_name["new\nline"].moved and not by_name["new\nline"].unchanged
    assert by_name["a/pkg/"].flags.startswith("cd")


def test_real_run_report_proves_every_listed_entry_but_not_the_missing_one() -> None:
    got = arrived(BATCH, lines("pull_with_missing.out"), proof="reported")
    assert set(got) == set(BATCH) - {"/missing"}
    assert got["/a/pkg/"].size == 3  # f1 + f2; the sub-folder stays behind
    assert got["/a/pkg/"].sent_bytes == 3
    assert got["/é ü.exr"].size == 2 and got["/é ü.exr"].mtime_ms == MTIME


def test_dry_run_with_nothing_left_proves_arrival() -> None:
    got = arrived(BATCH, lines("dry_all_arrived.out"), proof="unchanged")
    assert set(got) == set(BATCH) - {"/missing"}
    assert all(f.sent_bytes == 0 for f in got.values())


def test_dry_run_that_would_still_move_a_package_member_fails_the_package() -> None:
    got = arrived(BATCH, lines("dry_one_changed.out"), proof="unchanged")
    assert "/a/pkg/" not in got
    assert set(got) == set(HOSTILE)


def test_a_file_id_naming_a_folder_matches_the_folder_line() -> None:
    text = b"SPF:cd+++++++++|4096|2024/03/01-10:20:30|a/\n"
    assert set(arrived(["/a"], parse_itemized(text), proof="reported")) == {"/a"}


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"sending incremental file list\n",
        b"SPF:garbage\n",
        b"SPF:>f+++++++++|notanumber|2024/03/01-10:20:30|x\n",
    ],
)
def test_malformed_or_foreign_lines_prove_nothing(text: bytes) -> None:
    assert arrived(["/x"], parse_itemized(text), proof="reported") == {}
