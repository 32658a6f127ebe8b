"""The one clock of the project: milliseconds since the epoch, as stored in `time` keys."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
