"""The `spctl get` tables: the columns the registry of kinds names, plain or `-o wide`.

Pure rendering of manifest-shaped objects (what `applier.get` and the declarative routes
return) into spctl's one table (`spctl.table`). Which columns each kind shows is written next
to its model (`reconciler.core.kinds.KINDS`); how a cell is shown is decided here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core.humanize import iso_time  # spctl's one time format
from reconciler.core.kinds import Column, KindInfo
from spctl.table import cell, render


def _cell(column: Column, obj: Mapping[str, Any]) -> Any:
    source = (obj.get("status") or {}) if column.status else obj["spec"]
    value = source.get(column.key)
    if column.show == "time" and isinstance(value, int | float) and not isinstance(value, bool):
        return iso_time(int(value))
    if column.show == "sites" and obj["spec"].get("everywhere") is True:
        return "*"
    if column.show in ("list", "sites") and isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value


def table(info: KindInfo, items: Sequence[Mapping[str, Any]], *, wide: bool = False) -> str:
    """Aligned columns, NAME first; `wide` adds the kind's second group of columns."""
    columns = [*info.columns, *(info.wide if wide else ())]
    rows = [
        [cell(obj["metadata"]["name"]), *(cell(_cell(c, obj)) for c in columns)] for obj in items
    ]
    return render(["NAME", *(c.header for c in columns)], rows)
