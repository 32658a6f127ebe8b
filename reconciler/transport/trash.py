"""Trash folder names: `.syncplanet/trash/<UTC stamp>/`, and which ones are old enough to go.

Purely computational. Every transfer and trash move names its trash folder after its `now`
(sortable UTC with milliseconds); the purge only ever deletes folders with our own stamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

_STAMP = "%Y%m%dT%H%M%S"


def trash_stamp(now: int) -> str:
    """Name of the trash folder of a batch: UTC time with milliseconds (sortable)."""
    moment = datetime.fromtimestamp(now / 1000, UTC)
    return f"{moment.strftime(_STAMP)}.{now % 1000:03d}Z"


def _stamp_ms(name: str) -> int | None:
    try:
        moment = datetime.strptime(name[:15], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    if len(name) != 20 or name[15] != "." or not name[16:19].isdigit() or name[19] != "Z":
        return None
    return int(moment.timestamp()) * 1000 + int(name[16:19])


def trash_to_purge(names: Sequence[str], *, now: int, max_age_days: float) -> list[str]:
    """Trash folders (our own stamps only) older than `max_age_days`."""
    limit = now - int(max_age_days * 86_400_000)
    return sorted(n for n in names if (ms := _stamp_ms(n)) is not None and ms < limit)
