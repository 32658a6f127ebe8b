"""Where the grafana/ folder is, and the PromQL expressions its dashboards and rules hold."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
RULES = GRAFANA / "alerts" / "syncplanet.rules.yaml"
RULE_TESTS = sorted((GRAFANA / "alerts" / "tests").glob("*.yaml"))
SELECTOR = re.compile(r"\b(syncplanet_[a-z_]+)(\{[^}]*\})?")


def dashboard(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def panel_exprs(path: Path) -> list[tuple[str, str]]:
    """(panel title, expr) of every target of every panel."""
    return [
        (p["title"], t["expr"]) for p in dashboard(path)["panels"] for t in p.get("targets", [])
    ]


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def substitute(expr: str, site: str) -> str:
    """Grafana's variables as Grafana would expand them for a live query."""
    return (
        expr.replace('site=~"$site"', 'site=~".*"')
        .replace("$site", site)
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "5m")
    )


def selectors(expr: str) -> list[str]:
    """The vector selectors of an expression (`name{matchers}`), buckets named as such."""
    return [name + (matchers or "") for name, matchers in SELECTOR.findall(expr)]
