"""spctl's one table: aligned columns under capital headers, and what a cell shows.

Every table spctl prints (`get`, `status`, `get workers`, `describe file`, `diff --impact`)
goes through `render`, every `Key:  value` block (`describe`) through `fields`; times in
them are `reconciler.core.humanize.iso_time` (`2026-12-02 13:45:10Z`) or, for `status`,
ages (`5m ago`).

Decisions:
- kubectl's layout: left-aligned columns separated by three spaces, no trailing spaces;
  in a block of fields, values start two spaces after the longest `Key:`.
- A cell with nothing to show is `-`; a boolean is `yes` / `no`; a list is its items joined
  with `, ` (`-` when empty). Callers format numbers, sizes and times before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

GAP = "   "


def cell(value: Any) -> str:
    """The text of one value in a table or a `describe` line."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def render(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns: the headers line, then one line per row (no final newline)."""
    lines = [list(headers), *(list(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join(
        GAP.join(text.ljust(w) for text, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def fields(pairs: Sequence[tuple[str, str]], indent: str = "") -> list[str]:
    """`Key:  value` lines, the values aligned two spaces after the longest key."""
    width = max((len(key) for key, _ in pairs), default=0) + 3
    return [f"{indent}{(key + ':').ljust(width)}{value}" for key, value in pairs]
