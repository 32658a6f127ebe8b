"""How a batch is split across parallel rsync streams (purely computational).

Over a long link one rsync-over-SSH stream is capped by SSH's channel window at about
window / RTT, whatever the bandwidth; several streams at once each get their own window.
`partition` splits a batch into at most `streams` groups with balanced bytes: largest
files first, each to the group with the fewest bytes so far (greedy LPT), so the streams
end at about the same time. Each group keeps the batch's order within it.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

from reconciler.core.checks import MAX_STREAMS
from reconciler.core.config import SyncConfig, VolumeConfig


def stream_count(cfg: SyncConfig, volume: VolumeConfig) -> int:
    """`parallelStreams` of `volume` (its -1: the global value), within 1..MAX_STREAMS."""
    value = volume.parallel_streams
    if value < 1:
        value = cfg.globals.parallel_streams
    return max(1, min(value, MAX_STREAMS))


def partition(file_ids: Sequence[str], sizes: Mapping[str, int], streams: int) -> list[list[str]]:
    """At most `streams` non-empty groups of `file_ids` with balanced total sizes.

    A file of unknown size counts as one byte, so a batch of unknown sizes is spread by
    count. Never more groups than files; one group when `streams` is 1 or less."""
    count = max(1, min(streams, MAX_STREAMS, len(file_ids)))
    if count == 1:
        return [list(file_ids)] if file_ids else []
    order = {f: i for i, f in enumerate(file_ids)}
    heap = [(0, g) for g in range(count)]
    groups: list[list[str]] = [[] for _ in range(count)]
    for file_id in sorted(file_ids, key=lambda f: -max(1, sizes.get(f, 1))):
        total, g = heapq.heappop(heap)
        groups[g].append(file_id)
        heapq.heappush(heap, (total + max(1, sizes.get(file_id, 1)), g))
    return [sorted(group, key=order.__getitem__) for group in groups if group]
