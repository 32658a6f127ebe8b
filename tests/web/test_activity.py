"""The sites' last hour as data: samples in, one value per minute out (`api.web.activity`)."""

from __future__ import annotations

import pytest

from api.web.activity import series, window_start
from reconciler.store.samples import MINUTE_MS, Sample

NOW = 1_700_000_000_000 + 25_000  # 25 s into a minute
LAST = NOW - NOW % MINUTE_MS  # the window's last minute
START = LAST - 59 * MINUTE_MS


def at(minute: int, delivered: int = 0, backlog: int = 0) -> Sample:
    """A sample `minute` minutes after the window's first (negative: before the window)."""
    return Sample(
        "tokyo", START + minute * MINUTE_MS, delivered, delivered * 10, backlog, backlog * 100
    )


CASES = [
    # name, samples, current backlog (files), delivered files per minute, backlog per minute
    ("no sample: the current backlog all along", [], 7, {}, {i: 7 for i in range(60)}),
    (
        "before the first sample the backlog was 0; a gap keeps the last value",
        [at(10, backlog=4), at(20, delivered=3, backlog=1)],
        1,
        {20: 3},
        {
            **{i: 0 for i in range(10)},
            **{i: 4 for i in range(10, 20)},
            **{i: 1 for i in range(20, 60)},
        },
    ),
    (
        "the sample in force when the window opens",
        [at(-300, delivered=9, backlog=5), at(59, delivered=1, backlog=2)],
        2,
        {59: 1},
        {**{i: 5 for i in range(59)}, 59: 2},
    ),
]


@pytest.mark.parametrize(
    ("rows", "current", "delivered", "backlog"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_series(
    rows: list[Sample], current: int, delivered: dict[int, int], backlog: dict[int, int]
) -> None:
    out = series(rows, current=(current, current * 100), now_ms=NOW)
    assert out.start == START == window_start(NOW)
    assert out.delivered_files == [delivered.get(i, 0) for i in range(60)]
    assert out.delivered_bytes == [delivered.get(i, 0) * 10 for i in range(60)]
    assert out.backlog_files == [backlog[i] for i in range(60)]
    assert out.backlog_bytes == [backlog[i] * 100 for i in range(60)]
    assert out.as_json()["step"] == MINUTE_MS
