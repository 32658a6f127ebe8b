"""Values as people read them: one time format, ages, sizes and durations.

Pure functions, shared by everything that writes for a person: spctl's tables and
`describe`, `explain`'s sentences, the e-mail digests.

Decisions:
- A moment is `2026-12-02 13:45:10Z`: UTC, to the second, the `Z` saying so (`iso_time`).
  Times in the store are ms since the epoch; one beyond year 9999 prints as `N ms`.
- How long ago is `5m ago` (the largest whole unit: d, h, m, s), for `spctl status`, where
  the age matters more than the date; an unknown time is `-`.
- Sizes are binary (KiB, MiB...) with one decimal; plain bytes are whole.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_time(ms: int | None) -> str:
    """`2026-12-02 13:45:10Z` for a time in ms since the epoch; `-` when unknown."""
    if ms is None:
        return "-"
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    except (ValueError, OverflowError, OSError):  # a document's time beyond year 9999
        return f"{ms} ms"


def human_bytes(n: int) -> str:
    """`1.5 KiB`, `5.0 GiB`; `0 B`."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def human_age(ms: int | None, now: int) -> str:
    """`5m ago` style; `-` when unknown."""
    if ms is None:
        return "-"
    seconds = max(0, (now - ms) // 1000)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def eta_text(seconds: float | None) -> str:
    """An estimated duration: `~10m`, `~3h10m`, `~1d2h` (at least a minute); `-` unknown."""
    if seconds is None:
        return "-"
    minutes = max(1, round(seconds / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"~{days}d{hours}h"
    return f"~{hours}h{mins:02d}m" if hours else f"~{mins}m"
