"""Every registered kind round-trips: manifest -> store -> `spctl get -o yaml` -> apply is
`unchanged` and `spctl diff` finds nothing, with values unlike the defaults on every key
a generic value can stand in for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from reconciler.core.kinds import KINDS, Kind, KindInfo
from spctl import app
from tests.manifests.test_kinds import MINIMAL, _name

# Values unlike the defaults for the keys whose check a generic value would fail.
SPECIFIC: dict[str, Any] = {
    "url": "/srv/site/",
    "rsync_args": "--bwlimit=1000",
    "rsync_env": "RSYNC_RSH_EXTRA=1",
    "smtpPasswordFromEnv": "SMTP_PASSWORD",
    "smtpFrom": "sync@example.com",
    "notifiedEmails": "ops@example.com, vfx@example.com",
    "email": "alice@example.com",
    "class": "editor",
    "parallelStreams": 2,
    "maxDeletionsPercent": 50,
    "sites": [],  # no volume in this store; `everywhere` is set instead
    "excludeSites": [],
    "everywhere": True,
}


def _spec(info: KindInfo) -> dict[str, Any]:
    """A value unlike the default for every stored key, plus the kind's required keys."""
    spec: dict[str, Any] = dict(MINIMAL[info.kind])
    for key, default in info.defaults.items():
        if key in SPECIFIC:
            spec[key] = SPECIFIC[key]
        elif isinstance(default, bool):
            spec[key] = not default
        elif isinstance(default, int):
            spec[key] = default + 7 if default >= 0 else 7
        elif isinstance(default, list):
            spec[key] = ["/cache/**"]
        elif isinstance(default, str):
            spec[key] = f"{default}*.tmp" if key.endswith("Rules") else f"{default}value"
    return spec


def _spctl(db: str, *args: str) -> tuple[int, str]:
    env = {"SPCTL_DB": "", "SPCTL_SERVER": "", "SPCTL_TOKEN": ""}
    result = CliRunner().invoke(app, [*args, "--db", db], env=env)
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_round_trips_through_get_yaml(kind: Kind, tmp_path: Path) -> None:
    info = KINDS[kind]
    db = f"sqlite:///{tmp_path / 'store.db'}"
    spec = _spec(info)
    manifest = {
        "apiVersion": "syncplanet.io/v1",
        "kind": kind.value,
        "metadata": {"name": _name(kind)},
        "spec": spec,
    }
    first = tmp_path / "first.yaml"
    first.write_text(yaml.safe_dump(manifest))
    assert _spctl(db, "apply", "-f", str(first)) == (0, f"{info.ref(_name(kind))} created\n")

    code, shown = _spctl(db, "get", info.plural, _name(kind), "-o", "yaml")
    assert code == 0, shown
    live = yaml.safe_load(shown)
    expected = {k: v for k, v in spec.items() if k in info.defaults}
    assert live["spec"] == expected  # every stored key, as applied
    again = tmp_path / "again.yaml"
    again.write_text(shown)
    assert _spctl(db, "apply", "-f", str(again)) == (0, f"{info.ref(_name(kind))} unchanged\n")
    assert _spctl(db, "diff", "-f", str(again)) == (0, "")

    code, table = _spctl(db, "get", info.plural, "-o", "wide")
    assert code == 0 and table.splitlines()[0].split()[0] == "NAME", table
    headers = table.splitlines()[0].split()
    assert headers == ["NAME", *(c.header for c in (*info.columns, *info.wide))]
