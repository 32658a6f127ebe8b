"""The listing command and its parser: captured bytes, hostile names, a real `find | sort`."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from reconciler.core.urls import parse_url
from reconciler.jobs.scan.listing import EntryKind, Listed, ListingError, ListingParser
from reconciler.transport.commands import listing_argv, listing_script
from reconciler.transport.shells import CommandFailed, LocalShell
from reconciler.transport.ssh import SshSettings

# What `find -printf '%s/%T@/%P\0' | LC_ALL=C sort -z -t / -k 3` printed for a small tree.
CAPTURED = (
    b"5/1700000000.2500000000/-leading dash\0"
    b'0/1700000001.0000000000/a b/it\'s "quoted" $HOME\\n\0'
    b"12/1700000002.9990000000/a b/line\nbreak.exr\0"
    b"7/1699999999.0000000000/caf\xc3\xa9/\xe2\x98\x83.txt\0"
    b"3/1700000003.5000000000/bad\xffname\0"
    b"1/-12.5000000000/old\0"
)
EXPECTED = [
    Listed("/-leading dash", 5, 1700000000250),
    Listed('/a b/it\'s "quoted" $HOME\\n', 0, 1700000001000),
    Listed("/a b/line\nbreak.exr", 12, 1700000002999),
    Listed("/café/☃.txt", 7, 1699999999000),
    Listed("/old", 1, -12500),
]


def parse_all(chunks: list[bytes]) -> tuple[list[Listed], ListingParser]:
    parser = ListingParser()
    out: list[Listed] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    parser.close()
    return out, parser


@pytest.mark.parametrize("size", [1, 2, 7, 64, len(CAPTURED)])
def test_parser_is_independent_of_chunk_boundaries(size: int) -> None:
    chunks = [CAPTURED[i : i + size] for i in range(0, len(CAPTURED), size)]
    entries, parser = parse_all(chunks)
    assert entries == EXPECTED
    assert all(e.kind is EntryKind.FILE for e in entries)
    assert parser.entries == 5
    assert (parser.skipped, parser.skipped_samples) == (1, ["bad\\xffname"])


@pytest.mark.parametrize(
    "data",
    [
        b"12/1700000000.0/a\0b/1700000000.0/c\0",  # size not a number
        b"12/when/a\0",  # mtime not a number
        b"12/1700000000.0\0",  # no path field
        b"12/1700000000.0/\0",  # empty path
    ],
)
def test_malformed_records_are_refused(data: bytes) -> None:
    with pytest.raises(ListingError):
        parse_all([data])


def test_a_record_cut_in_the_middle_is_refused() -> None:
    parser = ListingParser()
    assert parser.feed(b"1/1700000000.0/a\0" + b"2/17000") == [Listed("/a", 1, 1700000000000)]
    with pytest.raises(ListingError, match="middle of a record"):
        parser.close()


def test_local_volume_runs_sh_and_ssh_volume_one_quoted_remote_command() -> None:
    ssh = SshSettings(identity_file="/k/id", known_hosts="/k/known hosts")
    local = listing_argv(parse_url("/srv/my volume/"), ssh)
    assert local == ["sh", "-c", listing_script("/srv/my volume/")]
    remote = listing_argv(parse_url("ssh://sync@nas:2222/prod/it's here/"), ssh)
    assert remote[:-1] == ssh.ssh_argv(parse_url("ssh://sync@nas:2222/prod/it's here/"))
    # the remote shell sees exactly `sh -c SCRIPT`, whatever the root's characters
    assert shlex.split(remote[-1]) == ["sh", "-c", listing_script("/prod/it's here/")]


def _touch(path: Path, data: bytes, mtime: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def test_real_listing_is_sorted_prunes_reserved_folders_and_keeps_hostile_names(
    tmp_path: Path,
) -> None:
    root = tmp_path / "vol"
    names = ["b/x", "a.b", "a/b", "a/-n", "a/new\nline", "ü/sp ace", "a/.syncplanet", "z"]
    for i, name in enumerate(names):
        _touch(root / name, b"x" * i, 1_600_000_000 + i)
    _touch(root / ".syncplanet" / "trash" / "1" / "a" / "b", b"old", 1)
    _touch(root / "a" / "deep" / ".syncplanet" / "partial" / "p", b"p", 1)
    os.symlink("a.b", root / "link")  # symlinks are not files to track
    chunks = list(LocalShell().stream(listing_argv(parse_url(f"{root}/"), SshSettings())))
    entries, _ = parse_all(chunks)
    wanted = sorted(("/" + n for n in names if ".syncplanet" not in n), key=str.encode)
    assert [e.id for e in entries] == wanted
    assert [e.id for e in entries] == sorted(e.id for e in entries)  # same order as Python's
    by_id = {e.id: e for e in entries}
    assert by_id["/a/new\nline"] == Listed("/a/new\nline", 4, 1_600_000_004_000)


def test_a_failing_find_fails_the_command_even_though_sort_succeeds(tmp_path: Path) -> None:
    argv = listing_argv(parse_url(f"{tmp_path}/missing/"), SshSettings())
    with pytest.raises(CommandFailed) as failed:
        list(LocalShell().stream(argv))
    assert failed.value.exit_code == 1
    assert "No such file or directory" in failed.value.stderr
