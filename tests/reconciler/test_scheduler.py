"""The APScheduler loop: jobs per volume, following configuration changes, converging.

The loop runs with short intervals; tests wait for the world to reach a state (polling with
a generous deadline) and assert on that state, never on durations.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from reconciler.jobs.scheduler import Scheduler
from tests.reconciler.conftest import SiteFactory, World, WorldFactory, same_copy

pytestmark = pytest.mark.ssh
LoopFactory = Callable[[World], Scheduler]


def wait_for(condition: Callable[[], bool], what: str, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
def loop(world: WorldFactory) -> Iterator[LoopFactory]:
    started: list[Scheduler] = []

    def start(w: World) -> Scheduler:
        sched = Scheduler(w.session(), idle_seconds=0.2, refresh_seconds=0.3, jitter=0.1)
        sched.start()
        started.append(sched)
        return sched

    yield start
    for sched in started:
        sched.shutdown()


def arrived(w: World, site: str, file_id: str) -> bool:
    doc = w.doc(file_id)
    return bool(doc.get(f"synced_{site}", 0) >= doc["time"])


def test_the_loop_follows_volumes_added_disabled_and_removed(
    world: WorldFactory, loop: LoopFactory, ssh_site: SiteFactory
) -> None:
    w: World = world("paris", "london")
    sched = loop(w)
    w.publish("paris", "/first.exr", b"first")
    wait_for(lambda: arrived(w, "london", "/first.exr"), "first file at london")
    assert same_copy(w.path("paris", "/first.exr"), w.path("london", "/first.exr"))
    jobs = {j.id: j for j in sched._aps.get_jobs()}
    assert {
        "config",
        "purge",
        "emission:paris",
        "reception:paris",
        "emission:london",
        "reception:london",
    } <= set(jobs)
    assert all(j.max_instances == 1 for j in jobs.values())
    assert w.metrics.reconcile_last_success._value.get() > 0

    # a new volume: its jobs appear and the file already tracked reaches it
    tokyo = ssh_site("tokyo")
    w.sites["tokyo"] = tokyo
    w.put({"_id": "volume/tokyo", "name": "tokyo", "url": tokyo.url})
    wait_for(lambda: arrived(w, "tokyo", "/first.exr"), "first file at tokyo")
    assert sched._aps.get_job("reception:tokyo") is not None

    # reception disabled at london: its reception job goes, its emission job stays
    w.volume("london", enableReception=False)
    wait_for(lambda: sched._aps.get_job("reception:london") is None, "london job removed")
    assert sched._aps.get_job("emission:london") is not None
    w.publish("paris", "/second.exr", b"second")
    wait_for(lambda: arrived(w, "tokyo", "/second.exr"), "second file at tokyo")
    assert not w.path("london", "/second.exr").exists()

    # a volume removed from the configuration: all its jobs go
    with w.store.write() as tx:
        tx.delete("volume/tokyo")
    wait_for(lambda: sched._aps.get_job("emission:tokyo") is None, "tokyo jobs removed")
    assert sched._aps.get_job("reception:tokyo") is None


def test_the_loop_runs_while_work_remains_in_small_batches(
    world: WorldFactory, loop: LoopFactory
) -> None:
    w: World = world("paris", "london")
    w.volume("paris", syncAmountEmission=2)
    w.volume("london", syncAmountReception=2)
    files = [f"/batch/{i:02d}" for i in range(9)]
    for file_id in files:
        w.publish("paris", file_id, file_id.encode())
    loop(w)
    wait_for(lambda: all(arrived(w, "london", f) for f in files), "all files at london")
    for file_id in files:
        assert same_copy(w.path("paris", file_id), w.path("london", file_id))
    assert w.metrics.transfers.labels("london", "reception")._value.get() == len(files)


def test_discovery_volumes_get_a_scan_job(world: WorldFactory) -> None:
    w: World = world("paris", "london", sleepBetweenScans=7, enableScans=True)
    w.volume("paris", enableDiscovery=True)
    sched = Scheduler(w.session())
    with w.store.read() as tx:
        cfg = tx.config()
    assert sched.desired_jobs(cfg)["scan:paris"] == ("scan", 7.0)
    assert "scan:london" not in sched.desired_jobs(cfg)
    with w.store.write() as tx:
        tx.patch("rsyncGlobalParameters", {"enableScans": False})
    with w.store.read() as tx:
        cfg = tx.config()
    assert not [j for j in sched.desired_jobs(cfg) if j.startswith("scan:")]
