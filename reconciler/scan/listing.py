"""Observe a volume: the one listing command and the pure parser of its output.

The command runs on the hub host (through `HubShell`): `sh -c SCRIPT` locally for a volume
mounted there, or `ssh ... 'sh -c SCRIPT'` for an `ssh://` volume. SCRIPT is built with
`shlex` quoting only. It runs `find` (pruning every `.syncplanet` folder, at any depth) and
sorts its output remotely in byte order (`LC_ALL=C sort -z`), so the scan can merge it with
the tracker's files in `_id` order without holding either side in memory. The script exits
with find's status when find fails and with sort's when sort fails, so a partial listing is
never mistaken for a complete one.

Records are NUL-terminated `SIZE/MTIME/PATH`: size and mtime never contain `/`, so sorting on
"field 3 to the end" with `/` as separator sorts by path, and every legal name (newlines,
quotes, leading dashes...) survives. `ListingParser` turns chunks of that output into
`Listed` entries; names that are not UTF-8 cannot be tracker ids and are counted as skipped.
"""

from __future__ import annotations

import math
import shlex
from enum import StrEnum
from typing import NamedTuple

from reconciler.domain import RESERVED_DIR
from reconciler.remote import SiteUrl, SshSettings

SORT_ARGV = ("env", "LC_ALL=C", "sort", "-z", "-t", "/", "-k", "3")


class EntryKind(StrEnum):
    FILE = "file"  # a file tracked on its own
    PACKAGE = "package"  # a folder tracked as a package (`/a/b/`)
    MEMBER = "member"  # a file directly inside a package: present, never tracked on its own


class Listed(NamedTuple):
    """One entry of a volume's listing, by tracker `_id`."""

    id: str
    size: int
    mtime_ms: int
    kind: EntryKind = EntryKind.FILE


FILE = EntryKind.FILE
_new = tuple.__new__  # builds a `Listed` without the Python-level __new__ (hot loop)


class ListingError(ValueError):
    """The listing output is malformed (not what our command prints)."""


def find_argv(root: str) -> list[str]:
    """`find` listing every regular file under `root`, `.syncplanet` folders pruned."""
    return [
        "env", "LC_ALL=C", "find", root, "-mindepth", "1",
        "-name", RESERVED_DIR, "-prune", "-o",
        "-type", "f", "-printf", "%s/%T@/%P\\0",
    ]  # fmt: skip


def listing_script(root: str) -> str:
    """POSIX sh: `find | sort`, exiting non-zero if either failed (no `pipefail` in sh)."""
    find = shlex.join(find_argv(root))
    sort = shlex.join(SORT_ARGV)
    return (
        "exec 4>&1; "
        f'f=$( {{ {{ {find}; echo "$?" >&3; }} | {sort} >&4; }} 3>&1 ); s=$?; '
        '[ "$s" = 0 ] || exit "$s"; [ "$f" = 0 ] || exit "${f:-125}"; exit 0'
    )


def listing_argv(url: SiteUrl, ssh: SshSettings) -> list[str]:
    """The argument vector run on the hub host to list the volume at `url`."""
    command = ["sh", "-c", listing_script(url.path)]
    if url.local:
        return command
    return [*ssh.ssh_argv(url), shlex.join(command)]


class ListingParser:
    """Incremental, pure parser of the listing output (feed it chunks in order)."""

    def __init__(self) -> None:
        self._tail = b""
        self.entries = 0
        self.skipped = 0
        self.skipped_samples: list[str] = []  # a few undecodable names, escaped, for stderr_scan

    def feed(self, chunk: bytes) -> list[Listed]:
        records = (self._tail + chunk).split(b"\0")
        self._tail = records.pop()
        out: list[Listed] = []
        append = out.append
        for record in records:
            parts = record.split(b"/", 2)
            if len(parts) != 3 or not parts[2]:
                raise ListingError(f"malformed listing record: {record[:200]!r}")
            try:
                size = int(parts[0])
                mtime_ms = math.floor(float(parts[1]) * 1000)
            except ValueError as exc:
                raise ListingError(f"malformed listing record: {record[:200]!r}") from exc
            try:
                path = parts[2].decode("utf-8")
            except UnicodeDecodeError:
                self._skip(parts[2])
                continue
            append(_new(Listed, ("/" + path, size, mtime_ms, FILE)))
        self.entries += len(out)
        return out

    def close(self) -> None:
        """End of output: a record cut in the middle means the listing is incomplete."""
        if self._tail:
            raise ListingError(f"listing ends in the middle of a record: {self._tail[:200]!r}")

    def _skip(self, raw: bytes) -> None:
        self.skipped += 1
        if len(self.skipped_samples) < 5:
            self.skipped_samples.append(raw.decode("utf-8", "backslashreplace"))
