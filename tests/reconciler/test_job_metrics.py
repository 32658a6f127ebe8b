"""Job failures are counted and alerted (issue 12, fault 8), on a real `spctl reconcile`.

A volume's configured root does not exist on its site, so its scan fails on every run while
the other volumes' transfers go on. The reconciler's own /metrics shows the failed scan runs
(`syncplanet_job_runs_total{job="scan",outcome="failed"}`) next to successful emissions, and
a real Prometheus scraping it evaluates the failing-jobs `SyncPlanetReconcilerStalled`
expression to one series, for the scan jobs.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.reconciler.conftest import World, WorldFactory, same_copy
from tests.support import servers
from tests.support.servers import free_port, server_process
from tests.support.spctl import reconcile_argv

pytestmark = pytest.mark.ssh

RULES = Path(__file__).parents[2] / "grafana" / "alerts" / "syncplanet.rules.yaml"


def _sample(body: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in body.splitlines():
        if line.startswith(f"{name}{{{want}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            return str(reply.read().decode())
    except OSError:
        return ""


def _failing_jobs_expr() -> str:
    doc = yaml.safe_load(RULES.read_text())
    return next(
        str(r["expr"])
        for g in doc["groups"]
        for r in g["rules"]
        if r["alert"] == "SyncPlanetReconcilerStalled" and "job_runs" in r["expr"]
    )


def _query(url: str, expr: str) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=5) as reply:
        body = json.load(reply)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _until(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (OSError, urllib.error.URLError):
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_job_failing_on_every_run_is_counted_and_the_stalled_alert_has_a_series(
    world: WorldFactory, tmp_path: Path
) -> None:
    w: World = world("paris", "london", "rome", enableScans=True, sleepBetweenScans=1)
    rome = w.sites["rome"].url
    w.volume(  # only scanned: a reception would create the missing folder
        "rome", enableDiscovery=True, enableReception=False, url=rome.rstrip("/") + "/gone/"
    )
    w.publish("paris", "/shot.exr", b"shot" * 100)
    port = free_port()
    argv = reconcile_argv(str(w.store.engine.url), "--metrics-port", str(port))
    env = {**os.environ, "SPCTL_HOME": str(tmp_path)}
    with server_process(argv, port=port, logs=tmp_path, name="reconcile", env=env,
                        ready="/metrics") as reconciler:  # fmt: skip
        body = _until(
            lambda: (
                (b := _scrape(port))
                and _sample(b, "syncplanet_job_runs_total", job="scan", outcome="failed") >= 3
                and b
            ),
            "three failed scan runs",
        )
        assert _sample(body, "syncplanet_job_runs_total", job="scan", outcome="ok") == 0
        assert _sample(body, "syncplanet_job_runs_total", job="emission", outcome="ok") >= 1
        assert _sample(body, "syncplanet_job_duration_seconds_count", job="scan") >= 3
        assert re.search(r"^syncplanet_reconcile_last_success_timestamp_seconds [1-9]", body, re.M)
        _until(lambda: w.path("london", "/shot.exr").exists(), "the shot in london")
        assert same_copy(w.path("paris", "/shot.exr"), w.path("london", "/shot.exr"))

        with servers.prometheus([reconciler.address], logs=tmp_path) as prom:
            firing = _until(
                lambda: [r["metric"] for r in _query(prom.url, _failing_jobs_expr())],
                "the failing-jobs expression to return a series",
            )
        assert [m.get("exported_job") for m in firing] == ["scan"], firing
    assert reconciler.returncode == 0, reconciler.output()[-2000:]
