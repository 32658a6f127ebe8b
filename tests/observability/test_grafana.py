"""grafana/: dashboards by structure, alert rules with promtool (check and unit tests)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema_rs
import pytest
import yaml
from prometheus_client import CollectorRegistry

from reconciler.services.metrics import Metrics
from reconciler.store import Store
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
from tests.observability.seed import seed

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
SCHEMA = Path(__file__).with_name("dashboard.schema.json")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "info": ("_info",)}


def test_dashboards_match_the_dashboard_schema() -> None:
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))
    for path in DASHBOARDS:
        errors = [
            f"{'/'.join(map(str, e.instance_path))}: {e.message}"
            for e in validator.iter_errors(dashboard(path))
        ]
        assert not errors, (path.name, errors[:5])


def test_the_schema_check_can_fail() -> None:
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))
    broken = dashboard(DASHBOARDS[0])
    broken["panels"][1]["gridPos"]["w"] = 30
    broken["panels"][1]["targets"][0]["exp"] = broken["panels"][1]["targets"][0].pop("expr")
    assert len(list(validator.iter_errors(broken))) >= 2


def test_panels_do_not_overlap() -> None:
    for path in DASHBOARDS:
        cells: dict[tuple[int, int], str] = {}
        for panel in dashboard(path)["panels"]:
            g = panel["gridPos"]
            assert g["x"] + g["w"] <= 24, (path.name, panel["title"])
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in cells, (path.name, panel["title"], cells.get((x, y)))
                    cells[(x, y)] = panel["title"]


def exported(store: Store) -> dict[str, set[str]]:
    """Every series name the registry of a running process exports, by metric family."""
    metrics = Metrics(CollectorRegistry())
    metrics.register_store_collector(store)
    out: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        suffixes = SUFFIXES.get(family.type, ("",))
        out[family.name] = {family.name + s for s in suffixes}
    return out


def _used() -> dict[str, str]:
    """syncplanet_* series named by dashboards, alert rules and the rules' unit tests."""
    used: dict[str, str] = {}
    for path in DASHBOARDS:
        for title, expr in panel_exprs(path):
            used |= {s.split("{")[0]: f"{path.name}: {title}" for s in selectors(expr)}
    for rule in rules():
        used |= {s.split("{")[0]: f"rule {rule['alert']}" for s in selectors(rule["expr"])}
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for series in test.get("input_series", []):
                name = re.match(r"[a-z_]+", series["series"])
                assert name, series
                used[name.group(0)] = f"{path.name}: {test['name']}"
    return used


def test_dashboards_and_rules_use_only_exported_metrics_and_every_metric_is_used(
    store: Store,
) -> None:
    """Panels, alert rules and the metrics registry cannot drift apart: a renamed or
    removed metric breaks this test, and so does a new metric nobody looks at."""
    seed(store)
    families = exported(store)
    names = set().union(*families.values())
    used = _used()
    unknown = {name: where for name, where in used.items() if name not in names}
    assert not unknown, f"not exported by the registry: {unknown}"
    ours = {f for f in families if f.startswith("syncplanet_")}
    unused = {f for f in ours if not families[f] & set(used)}
    assert not unused, f"exported but in no dashboard or alert rule: {sorted(unused)}"


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
