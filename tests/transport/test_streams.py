"""`partition`: a batch split across parallel streams, as data cases."""

from __future__ import annotations

import pytest

from reconciler.core.checks import MAX_STREAMS
from reconciler.core.config import SyncConfig, VolumeConfig
from reconciler.core.kinds import GlobalParameters
from reconciler.core.streams import partition, stream_count

MiB = 1024**2


@pytest.mark.parametrize(
    ("ids", "sizes", "streams", "expected"),
    [
        ([], {}, 4, []),
        (["/a"], {"/a": 5}, 4, [["/a"]]),
        (["/a", "/b"], {}, 1, [["/a", "/b"]]),
        (["/a", "/b"], {}, 0, [["/a", "/b"]]),
        # largest first, each to the lightest group; order kept within a group
        (
            ["/s1", "/big", "/s2", "/mid"],
            {"/s1": 1, "/big": 10, "/s2": 1, "/mid": 6},
            2,
            [["/big"], ["/s1", "/s2", "/mid"]],
        ),
        # unknown sizes: spread by count
        (["/a", "/b", "/c", "/d"], {}, 2, [["/a", "/c"], ["/b", "/d"]]),
    ],
)
def test_partition_cases(
    ids: list[str], sizes: dict[str, int], streams: int, expected: list[list[str]]
) -> None:
    assert partition(ids, sizes, streams) == expected


def test_twenty_equal_files_on_four_streams_make_four_groups_of_five() -> None:
    ids = [f"/f{i:02d}" for i in range(20)]
    groups = partition(ids, dict.fromkeys(ids, 64 * MiB), 4)
    assert [len(g) for g in groups] == [5, 5, 5, 5]
    assert sorted(f for g in groups for f in g) == ids


def test_bytes_are_balanced_within_the_largest_file() -> None:
    sizes = {f"/f{i}": (i * 7919) % 1000 + 1 for i in range(500)}
    groups = partition(list(sizes), sizes, 4)
    totals = [sum(sizes[f] for f in g) for g in groups]
    assert max(totals) - min(totals) <= max(sizes.values())


def test_never_more_than_the_cap() -> None:
    assert len(partition([f"/f{i}" for i in range(50)], {}, 100)) == MAX_STREAMS


@pytest.mark.parametrize(
    ("global_value", "volume_value", "expected"),
    [(4, -1, 4), (4, 2, 2), (1, -1, 1), (4, 1, 1), (100, -1, MAX_STREAMS)],
)
def test_stream_count_is_the_volume_s_or_else_the_global_value(
    global_value: int, volume_value: int, expected: int
) -> None:
    cfg = SyncConfig(globals=GlobalParameters.from_stored({"parallelStreams": global_value}))
    volume = VolumeConfig.of("paris", {"url": "/srv/paris/", "parallelStreams": volume_value})
    assert stream_count(cfg, volume) == expected
