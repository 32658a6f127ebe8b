"""Observe a volume: the pure parser of its listing.

The volume's transport lists it (`SiteTransport.list_files`; for rsync sites the command is
`reconciler.transport.commands.listing_script`, a `find | sort` run at the site) and hands
over listing records in byte order of path, so the scan can merge them with the tracker's
files in `_id` order without holding either side in memory.

Records are NUL-terminated `SIZE/MTIME/PATH`: size and mtime never contain `/`, and every
legal name (newlines, quotes, leading dashes...) survives. `ListingParser` turns chunks of
that output into `Listed` entries; names that are not UTF-8 cannot be tracker ids and are
counted as skipped.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import NamedTuple


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
