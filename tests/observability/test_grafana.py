"""grafana/: dashboards by structure, alert rules with promtool (check and unit tests)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.observability.grafana_files import (
    DASHBOARDS,
    GRAFANA,
    RULE_TESTS,
    RULES,
    dashboard,
    panel_exprs,
    rules,
    selectors,
)

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def test_dashboards_have_fixed_uids_and_variables() -> None:
    assert {p.name for p in DASHBOARDS} == {"overview.json", "site.json"}
    uids = set()
    for path in DASHBOARDS:
        d = dashboard(path)
        uids.add(d["uid"])
        variables = {v["name"]: v for v in d["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        assert variables["site"]["query"]["query"] == "label_values(syncplanet_files, site)"
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)), path
        for panel in d["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"
                assert "$site" in target["expr"] or "site" not in target["expr"]
    assert uids == {"syncplanet-overview", "syncplanet-site"}


def test_overview_covers_what_operators_ask() -> None:
    exprs = " ".join(e for _, e in panel_exprs(GRAFANA / "dashboards" / "overview.json"))
    for metric in ("syncplanet_files", "syncplanet_pending_bytes",
                   "syncplanet_oldest_pending_timestamp_seconds",
                   "syncplanet_transferred_bytes_total", "syncplanet_transfers_total",
                   "syncplanet_transfer_failures_total", "syncplanet_volume_up",
                   "syncplanet_scan_duration_seconds",
                   "syncplanet_reconcile_last_success_timestamp_seconds"):  # fmt: skip
        assert metric in exprs, metric
    assert "by (site, direction)" in exprs and "exit_code" in exprs


def test_provisioning_points_at_the_dashboards() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())
    assert ds["datasources"][0]["type"] == "prometheus"
    prov = yaml.safe_load((GRAFANA / "provisioning/dashboards/syncplanet.yaml").read_text())
    assert prov["providers"][0]["type"] == "file"
    assert prov["providers"][0]["options"]["path"]


def test_alert_rules_cover_the_failure_modes() -> None:
    names = {r["alert"] for r in rules()}
    assert names >= {"SyncPlanetTransferFailures", "SyncPlanetVolumeUnreachable",
                     "SyncPlanetBacklogTooOld", "SyncPlanetReconcilerStalled",
                     "SyncPlanetMetricsAbsent"}  # fmt: skip
    for rule in rules():
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and selectors(rule["expr"])


@pytest.mark.prometheus
def test_promtool_check_rules() -> None:
    done = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


@pytest.mark.prometheus
def test_promtool_unit_tests_of_the_rules() -> None:
    assert RULE_TESTS
    done = subprocess.run([PROMTOOL, "test", "rules", *map(str, RULE_TESTS)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.prometheus
def test_promtool_catches_a_broken_rule(tmp_path: Path) -> None:
    """The check above can fail: a rule with a bad expression is refused."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(RULES.read_text().replace("syncplanet_volume_up == 0",
                                             "syncplanet_volume_up === 0"))  # fmt: skip
    done = subprocess.run([PROMTOOL, "check", "rules", str(bad)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode != 0
