"""A real Prometheus scrapes a running `spctl run` (API + reconciler) that moves files
between real sshd volumes, and every expression of every dashboard panel and alert rule
parses and returns data."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.store import Store
from tests.observability.grafana_files import (
    DASHBOARDS,
    RULES,
    panel_exprs,
    rules,
    selectors,
    substitute,
)
from tests.support import servers
from tests.support.servers import free_port, server_process
from tests.support.sshd import SshKeys, SshSite

pytestmark = [pytest.mark.prometheus, pytest.mark.ssh]
SPCTL = str(Path(sys.executable).with_name("spctl"))


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def production(tmp_path: Path, keys: SshKeys, paris: SshSite, tokyo: SshSite,
               berlin: SshSite) -> Store:  # fmt: skip
    """paris scans and publishes; tokyo's file is missing at its origin; berlin is down."""
    for name in ("a.exr", "b.exr", "c.exr"):
        (paris.root / "shots").mkdir(exist_ok=True)
        (paris.root / "shots" / name).write_bytes(name.encode() * 4096)
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    with store.write() as tx:
        tx.put_many([
            {"_id": "rsyncGlobalParameters", "name": "rsyncGlobalParameters"},
            {"_id": "hub/hub", "name": "hub", "url": str(tmp_path / "hub") + "/",
             "identityFile": str(keys.identity), "knownHosts": str(keys.known_hosts)},
            {"_id": "volume/paris", "name": "paris", "url": paris.url, "enableDiscovery": True,
             "enableDiscoveryDeletedFiles": False},
            {"_id": "volume/tokyo", "name": "tokyo", "url": tokyo.url},
            {"_id": "volume/berlin", "name": "berlin", "url": berlin.url},
        ])  # fmt: skip
        now = int(time.time() * 1000)
        tx.insert_many([
            {"_id": "/ghost.exr", "origin": "paris", "time": now, "file_size": 10},
            {"_id": "/tokyo/lost.ma", "origin": "tokyo", "time": now - 60_000, "file_size": 5},
        ])  # fmt: skip
    (tmp_path / "hub").mkdir()
    return store


def metrics_text(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics") as reply:
        text: str = reply.read().decode()
    return text


@pytest.fixture
def tracker(tmp_path: Path, ssh_keys: SshKeys, ssh_site: Callable[[str], SshSite]) -> Iterator[str]:
    """`spctl run` (API + reconciler loop) over real sshd volumes, with a transfer history."""
    paris, tokyo, berlin = ssh_site("paris"), ssh_site("tokyo"), ssh_site("berlin")
    berlin.stop()
    store = production(tmp_path, ssh_keys, paris, tokyo, berlin)
    store.close()
    port = free_port()
    env = {**os.environ, "SPCTL_HOME": str(tmp_path / "home"), "SPCTL_ADMIN_PASSWORD": "pw",
           "SPCTL_SECRET": "s"}  # fmt: skip
    command = [SPCTL, "run", "--db", f"sqlite:///{tmp_path / 'store.db'}", "--port", str(port),
               "--log-level", "warning"]  # fmt: skip
    with server_process(command, port=port, logs=tmp_path, name="spctl-run", env=env) as server:
        # Real transfers happened (and failed) before Prometheus looks.
        wanted = ['site="berlin"', 'site="paris"', 'site="tokyo"']
        wait_for(lambda: all((tokyo.root / "shots" / n).exists() for n in ("a.exr", "b.exr")),
                 "the shots to reach tokyo")  # fmt: skip
        wait_for(
            lambda: all(
                any(w in line and "syncplanet_transfer_failures_total{" in line
                    for line in metrics_text(server.address).splitlines())
                for w in wanted
            ) and "syncplanet_scan_duration_seconds{" in metrics_text(server.address),
            "failures on every volume and a scan",
        )  # fmt: skip
        yield server.address


@pytest.fixture
def prometheus(tmp_path: Path, tracker: str) -> Iterator[str]:
    with servers.prometheus([tracker], logs=tmp_path, rule_files=[RULES]) as server:
        # Three scrapes at least, so that rate() and increase() have samples to work on.
        wait_for(lambda: bool(query(server.url, "count_over_time(syncplanet_build_info[1m]) >= 3")),
                 "three scrapes")  # fmt: skip
        yield server.url


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """Evaluate `expr` now; fail (with Prometheus' message) if it does not parse or run."""
    params = urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query?{params}") as reply:
            body = json.load(reply)
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{expr}: {exc.read().decode()}") from None
    assert body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_every_dashboard_and_alert_expression_returns_data(prometheus: str) -> None:
    checked = 0
    for path in DASHBOARDS:
        # The overview takes all sites; the drill-down is checked on the scanning volume.
        for title, expr in panel_exprs(path):
            live = substitute(expr, site="paris")
            assert query(prometheus, live), f"{path.name}: {title}: no data for {live}"
            checked += 1
    for rule in rules():
        query(prometheus, rule["expr"])  # parses and evaluates
        for selector in selectors(rule["expr"]):
            assert query(prometheus, selector), f"{rule['alert']}: no data for {selector}"
        checked += 1
    assert checked >= 30

    # And the live values are the real ones: berlin is down, failures are counted by code.
    down = {
        r["metric"]["site"] for r in query(prometheus, rules_expr("SyncPlanetVolumeUnreachable"))
    }
    assert down == {"berlin"}
    failures = query(prometheus, "sum by (site, exit_code) (syncplanet_transfer_failures_total)")
    assert {(r["metric"]["site"], r["metric"]["exit_code"]) for r in failures} >= {
        ("berlin", "255"),
        ("paris", "23"),
        ("tokyo", "23"),
    }
    files = query(prometheus, 'syncplanet_files{site="tokyo",state="synced"}')
    assert float(files[0]["value"][1]) == 4  # three shots arrived, and its own lost.ma
    health = query(prometheus, 'up{job="syncplanet"}')
    assert health[0]["value"][1] == "1"


def rules_expr(alert: str) -> str:
    return str(next(r["expr"] for r in rules() if r["alert"] == alert))
