"""Single-run jobs across workers (issue 12): with two loops on one store, each runs once a period.

Two `Scheduler`s (two workers of this process, each with its own session and registry) run
on the same store, on SQLite and on PostgreSQL. A volume is scanned every 2 s and the trash
purge runs every 2 s: over the run, the scans and purges of both workers together number
about one per period, not two, and the files published meanwhile still travel.
"""

from __future__ import annotations

import time

import pytest

from reconciler.jobs.scheduler import Scheduler, open_session
from reconciler.services.metrics import Metrics
from tests.reconciler.conftest import World, WorldFactory, same_copy

pytestmark = pytest.mark.ssh

PERIOD = 2.0
RUN = 9.0


def _runs(metrics: Metrics, job: str) -> float:
    r = metrics.registry
    return sum(
        r.get_sample_value("syncplanet_job_runs_total", {"job": job, "outcome": o}) or 0.0
        for o in ("ok", "failed", "error")
    )


def test_two_workers_scan_and_purge_once_per_period_between_them(any_world: WorldFactory) -> None:
    w: World = any_world("paris", "london", enableScans=True, sleepBetweenScans=int(PERIOD))
    w.volume("paris", enableDiscovery=True)
    w.write("paris", "/found/a.exr", b"found")
    registries = [Metrics(), Metrics()]
    loops = [
        Scheduler(
            open_session(w.store, metrics=m, worker_id=f"w{i}"),
            jitter=0.1,
            purge_seconds=PERIOD,
            idle_seconds=0.5,
        )
        for i, m in enumerate(registries)
    ]
    for loop in loops:
        loop.start()
    try:
        time.sleep(RUN)
    finally:
        for loop in loops:
            loop.shutdown()
    periods = RUN / PERIOD
    for job in ("scan", "purge"):
        total = sum(_runs(m, job) for m in registries)
        # once per period (a first run at start, then every period), never once per worker
        assert 2 <= total <= periods + 1.5, (job, [_runs(m, job) for m in registries])
    assert same_copy(w.path("paris", "/found/a.exr"), w.path("london", "/found/a.exr"))
