"""Scale-out (architecture.md#scale-out): several workers on one store never move the same (file,
site) twice."""

from __future__ import annotations

import threading

import pytest

from reconciler.core.domain import Direction
from reconciler.jobs.scheduler import open_session, reconcile_once
from reconciler.services.metrics import Metrics
from tests.reconciler.conftest import WorldFactory, same_copy

pytestmark = pytest.mark.ssh


def _delivered(metrics: Metrics, site: str, direction: Direction) -> float:
    value = metrics.registry.get_sample_value(
        "syncplanet_transfers_total", {"site": site, "direction": direction.value}
    )
    return value or 0.0


def test_two_workers_share_the_work_without_moving_anything_twice(
    any_world: WorldFactory,
) -> None:
    w = any_world("paris", "tokyo", "oslo", syncAmountEmission=5, syncAmountReception=5)
    for name in ("paris", "tokyo", "oslo"):  # small batches: the workers interleave
        w.volume(name, syncAmountEmission=5, syncAmountReception=5)
    files = [f"/shots/sh{i:03d}.exr" for i in range(60)]
    for file_id in files:
        w.publish("paris", file_id, file_id.encode() * 50)
    workers = [Metrics(), Metrics()]
    sessions = [
        open_session(w.store, metrics=m, worker_id=f"worker-{i}") for i, m in enumerate(workers)
    ]
    errors: list[bool] = []
    try:
        threads = [
            threading.Thread(target=lambda s=s: errors.append(reconcile_once(s.rt, scans=False)))
            for s in sessions
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in sessions:
            s.close()
    assert errors == [False, False]
    # every (file, site) moved exactly once, whichever worker took it
    assert sum(_delivered(m, "paris", Direction.EMISSION) for m in workers) == len(files)
    for site in ("tokyo", "oslo"):
        assert sum(_delivered(m, site, Direction.RECEPTION) for m in workers) == len(files)
    # both workers did part of it (the claims interleave rather than one worker taking all)
    assert all(
        sum(
            _delivered(m, s, d)
            for s, d in [
                ("paris", Direction.EMISSION),
                ("tokyo", Direction.RECEPTION),
                ("oslo", Direction.RECEPTION),
            ]
        )
        > 0
        for m in workers
    )
    for file_id in files:
        for site in ("hub", "tokyo", "oslo"):
            assert same_copy(w.path("paris", file_id), w.path(site, file_id))
        doc = w.doc(file_id)
        assert all(doc[f"synced_{s}"] >= doc["time"] for s in ("hub", "tokyo", "oslo"))
        assert not any(k.startswith(("syncing_", "syncError_")) for k in doc)
