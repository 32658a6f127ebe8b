"""Parallel streams across a simulated ocean: channels of one connection, seen in metrics.

`paris` is behind the WAN proxy (the fixture of test_faults.py); a batch of 8 files with
`parallelStreams: 4` runs as 4 rsyncs at once, all of them channels of the reception
lane's one SSH connection (the proxy counts the connections), and
`syncplanet_transfer_streams` shows them while they run, 0 after.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from reconciler.core.domain import synced_key
from tests.reconciler.conftest import World, same_copy
from tests.support.wan import WanProxy
from tests.wan.test_faults import wan_world

__all__ = ["wan_world"]  # the fixture, shared with the fault tests
pytestmark = pytest.mark.ssh
MiB = 1024**2


def test_a_batch_runs_as_streams_over_one_connection_and_shows_in_metrics(
    wan_world: tuple[World, WanProxy],
) -> None:
    world, proxy = wan_world
    world.volume("paris", parallelStreams=4)
    proxy.set_rate(4 * MiB)  # 16 MiB: about 4 s on the link
    ids = [f"/plates/p{i}.exr" for i in range(8)]
    for file_id in ids:
        world.publish("lyon", file_id, os.urandom(2 * MiB))
    labels = {"site": "paris", "direction": "reception"}
    seen: list[float] = []
    done = threading.Event()

    def sample() -> None:
        deadline = time.monotonic() + 60
        while not done.is_set() and time.monotonic() < deadline:
            value = world.metrics.registry.get_sample_value("syncplanet_transfer_streams", labels)
            seen.append(value or 0.0)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        assert not world.reconcile()
    finally:
        done.set()
        sampler.join()
    assert max(seen) == 4
    assert world.metrics.registry.get_sample_value("syncplanet_transfer_streams", labels) == 0
    for file_id in ids:
        assert synced_key("paris") in world.doc(file_id)
        assert same_copy(world.path("lyon", file_id), world.path("paris", file_id))
    # one ControlMaster per lane used (marker checks, reception, housekeeping): the 4
    # streams opened no connection of their own (they would make it 6 or more)
    assert proxy.connections <= 3, proxy.connections
