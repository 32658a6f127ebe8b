"""The `spctl get` tables: the columns the registry of kinds names, plain or `-o wide`.

Pure rendering of manifest-shaped objects (what `applier.get` and the declarative routes
return) into kubectl-like aligned columns. Which columns each kind shows is written next
to its model (`reconciler.core.kinds.KINDS`); how a cell is shown is decided here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core.kinds import Column, KindInfo


def _cell(column: Column, obj: Mapping[str, Any]) -> Any:
    source = (obj.get("status") or {}) if column.status else obj["spec"]
    value = source.get(column.key)
    if column.show == "time" and isinstance(value, int | float) and not isinstance(value, bool):
        from reconciler.services.status import iso_time  # spctl's one time format

        return iso_time(int(value))
    if column.show == "sites" and obj["spec"].get("everywhere") is True:
        return "*"
    if column.show in ("list", "sites") and isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value


def _text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def table(info: KindInfo, items: Sequence[Mapping[str, Any]], *, wide: bool = False) -> str:
    """Aligned columns, NAME first; `wide` adds the kind's second group of columns."""
    columns = [*info.columns, *(info.wide if wide else ())]
    rows = [["NAME", *(c.header for c in columns)]] + [
        [_text(obj["metadata"]["name"]), *(_text(_cell(c, obj)) for c in columns)] for obj in items
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
