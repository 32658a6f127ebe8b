"""rsync's itemized output: the pure parser that proves which entries of a batch arrived.

Observe = command + pure parser: rsync prints one line per entry in our `--out-format`
(`reconciler.transport.commands.OUT_FORMAT`), unchanged entries included (`--info=name2`),
and `parse_itemized` reads them back (undoing rsync's `\\#ooo` escaping). `arrived` then
says which entries of the batch are proven: any reported line when rsync exited 0, only
"nothing left to move" lines of a `--dry-run` otherwise (architecture.md#the-loop's verification).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from reconciler.core.domain import is_package, relpath
from reconciler.core.planning import FileFacts
from reconciler.transport.commands import OUT_MARKER

_ESCAPE = re.compile(rb"\\#([0-7]{3})")


@dataclass(frozen=True)
class ItemLine:
    """One entry of rsync's itemized output: `%i|%l|%M|%n`."""

    flags: str
    size: int
    mtime_ms: int | None
    name: str  # unescaped, relative to the transfer root; folders end with '/'

    @property
    def unchanged(self) -> bool:
        """Nothing to move: same size and mtime on both sides (the quick check passed)."""
        return self.flags[:1] == "."

    @property
    def moved(self) -> bool:
        return self.flags[:1] in ("<", ">")


def unescape(raw: bytes) -> str:
    """Undo rsync's `\\#ooo` escapes (a literal `\\#ooo` in a name comes as `\\#134#ooo`)."""
    return _ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), raw).decode(
        "utf-8", "surrogateescape"
    )


@lru_cache(maxsize=65536)  # a batch's files share few distinct mtimes; strptime is slow
def _mtime(text: str) -> int | None:
    try:
        moment = datetime.strptime(text, "%Y/%m/%d-%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(moment.timestamp()) * 1000


def parse_itemized(stdout: bytes) -> list[ItemLine]:
    """Our lines of rsync's stdout (rsync's own messages are skipped)."""
    marker = OUT_MARKER.encode()
    lines: list[ItemLine] = []
    for raw in stdout.split(b"\n"):
        if not raw.startswith(marker):
            continue
        parts = raw[len(marker) :].split(b"|", 3)
        if len(parts) != 4:
            continue
        flags, size, mtime, name = parts
        try:
            length = int(size.replace(b",", b"").decode())
        except ValueError:
            continue
        lines.append(
            ItemLine(
                flags.decode(errors="replace"),
                length,
                _mtime(mtime.decode(errors="replace")),
                unescape(name),
            )
        )
    return lines


def arrived(
    file_ids: Sequence[str], lines: Sequence[ItemLine], *, proof: str
) -> dict[str, FileFacts]:
    """Entries of the batch that rsync reported as arrived.

    `proof="reported"`: a line is enough (rsync exited 0). `proof="unchanged"`: the line of a
    dry run must say there is nothing left to move (for a package: the folder and every file
    directly inside it).
    """
    by_name = {line.name: line for line in lines}
    children: dict[str, list[ItemLine]] = {}
    for line in lines:
        parent, _, base = line.name.rstrip("/").rpartition("/")
        if base:
            children.setdefault(f"{parent}/" if parent else "", []).append(line)
    out: dict[str, FileFacts] = {}
    for file_id in file_ids:
        rel = relpath(file_id)
        if is_package(file_id):
            head = by_name.get(rel)
            inner = [c for c in children.get(rel, []) if not c.name.endswith("/")]
            group = [head, *inner] if head else []
        else:
            head = by_name.get(rel) or by_name.get(rel + "/")
            group = [head] if head else []
        if not group or (proof == "unchanged" and not all(g.unchanged for g in group)):
            continue
        files = [g for g in group if not g.name.endswith("/")] or group
        mtimes = [g.mtime_ms for g in files if g.mtime_ms is not None]
        out[file_id] = FileFacts(
            size=sum(g.size for g in files) if is_package(file_id) else files[0].size,
            mtime_ms=max(mtimes) if mtimes else None,
            sent_bytes=sum(g.size for g in files if g.moved),
        )
    return out
