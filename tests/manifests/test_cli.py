"""`spctl apply/diff/get/delete` end to end, with `--db` and with `--server` (a real tracker).

Every case runs in both modes on SQLite and PostgreSQL and expects the same output; errors
are one `error: ...` line on stderr with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from api.client import ApiError, Client
from spctl import app
from tests.manifests.conftest import Target, Tracker
from tests.manifests.helpers import doc, docs, volume, write

DEMO = str(Path(__file__).resolve().parents[2] / "manifests" / "demo")


@dataclass
class Result:
    code: int
    out: str
    err: str


Spctl = Callable[..., Result]


@pytest.fixture
def spctl(spctl_target: Target) -> Spctl:
    """Run spctl against the test store, directly (`--db`) or through a tracker."""
    where = spctl_target.args
    env = {
        **spctl_target.env,
        "SPCTL_DEMO_ALICE_PASSWORD": "alice-pw",
        "SPCTL_DEMO_BOB_PASSWORD": "bob-pw",
    }

    def run(*args: str, extra_env: dict[str, str] | None = None) -> Result:
        result = CliRunner().invoke(app, [*args, *where], env={**env, **(extra_env or {})})
        return Result(result.exit_code, result.stdout, result.stderr)

    return run


def one_error_line(result: Result) -> str:
    assert result.code != 0
    assert "Traceback" not in result.err + result.out
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    return lines[0]


def test_apply_twice_then_get_yaml_round_trip(spctl: Spctl, tmp_path: Path) -> None:
    first = spctl("apply", "-f", DEMO)
    assert first.code == 0, first.err
    assert first.out.splitlines()[:3] == [
        "globalparameters/rsyncGlobalParameters created",
        "hub/hub created",
        "volume/paris created",
    ]
    assert len(first.out.splitlines()) == 11
    again = spctl("apply", "-f", DEMO)
    assert again.out == first.out.replace(" created", " unchanged")
    for kind in ("globalparameters", "hub", "volumes", "users", "synctargets"):
        out = spctl("get", kind, "-o", "yaml")
        assert out.code == 0, out.err
        (tmp_path / "live" / f"{kind}.yaml").parent.mkdir(exist_ok=True)
        (tmp_path / "live" / f"{kind}.yaml").write_text(out.out)
    back = spctl("apply", "-f", str(tmp_path / "live"))
    assert back.code == 0, back.err
    assert back.out and all(line.endswith(" unchanged") for line in back.out.splitlines()), back.out
    hub = yaml.safe_load(spctl("get", "hub", "hub", "-o", "yaml").out)
    assert hub["spec"]["url"] == str(tmp_path / "home" / "demo" / "hub") + "/"


def test_dry_run_marks_every_line_and_writes_nothing(spctl: Spctl, tmp_path: Path) -> None:
    path = write(tmp_path / "v.yaml", docs(volume("paris"), volume("rome")))
    dry = spctl("apply", "-f", str(path), "--dry-run")
    assert dry.out == "volume/paris created (dry run)\nvolume/rome created (dry run)\n"
    assert json.loads(spctl("get", "volumes", "-o", "json").out) == []
    spctl("apply", "-f", str(path))
    write(path, volume("paris", enabled="false"))
    dry = spctl("apply", "-f", str(path), "--dry-run", "--prune")
    assert dry.out == "volume/paris configured (dry run)\nvolume/rome pruned (dry run)\n"
    assert len(json.loads(spctl("get", "volumes", "-o", "json").out)) == 2
    pruned = spctl("apply", "-f", str(path), "--prune")
    assert pruned.out == "volume/paris configured\nvolume/rome pruned\n"


def test_diff_exit_codes(spctl: Spctl, tmp_path: Path) -> None:
    path = write(tmp_path / "v.yaml", volume("paris"))
    created = spctl("diff", "-f", str(path))
    assert created.code == 1 and "+++ manifests/volume/paris" in created.out
    spctl("apply", "-f", str(path))
    same = spctl("diff", "-f", str(path))
    assert (same.code, same.out) == (0, "")
    write(path, volume("paris", syncAmountEmission=10))
    changed = spctl("diff", "-f", str(path))
    assert changed.code == 1
    assert "-  syncAmountEmission: 1000\n+  syncAmountEmission: 10\n" in changed.out
    write(path, volume("paris", syncAmountEmission=0))
    bad = spctl("diff", "-f", str(path))
    assert bad.code > 1
    assert "spec.syncAmountEmission: Invalid value: 0: must be at least 1" in one_error_line(bad)


def test_an_invalid_tree_is_one_error_line_and_nothing_is_applied(
    spctl: Spctl, tmp_path: Path
) -> None:
    path = write(tmp_path / "t.yaml", docs(volume("paris"), doc("Volume", "rome", "{}")))
    line = one_error_line(spctl("apply", "-f", str(path)))
    assert line == f'error: {path}: Volume "rome" is invalid: spec.url: Required value'
    assert json.loads(spctl("get", "volumes", "-o", "json").out) == []
    target = doc("SyncTarget", "t", "{paths: ['/a/**'], sites: [nowhere]}")
    write(path, docs(volume("paris"), target))
    line = one_error_line(spctl("apply", "-f", str(path)))
    assert 'SyncTarget "t" is invalid: spec.sites[0]: Not found: "nowhere"' in line
    assert json.loads(spctl("get", "volumes", "-o", "json").out) == []
    write(path, "kind: [")
    assert f"{path}: line 1: YAML syntax error" in one_error_line(spctl("apply", "-f", str(path)))
    assert "no such file" in one_error_line(spctl("apply", "-f", str(tmp_path / "missing")))


def test_get_and_delete(spctl: Spctl, tmp_path: Path) -> None:
    spctl("apply", "-f", str(write(tmp_path / "v.yaml", docs(volume("paris"), volume("rome")))))
    table = spctl("get", "volumes").out.splitlines()
    assert table[0].split() == ["NAME", "URL", "ENABLED", "EMISSION", "RECEPTION", "DISCOVERY"]
    assert table[1].split() == ["paris", "/srv/paris/", "yes", "yes", "yes", "no"]
    assert "LAST-SCAN" in spctl("get", "volume", "-o", "wide").out
    one = json.loads(spctl("get", "Volume", "rome", "-o", "json").out)
    assert one["metadata"] == {"name": "rome"} and one["spec"]["url"] == "/srv/rome/"
    missing = spctl("get", "volume", "tokyo")
    assert (missing.code, one_error_line(missing)) == (1, 'error: volume "tokyo" not found')
    assert 'unknown kind "widgets"' in one_error_line(spctl("get", "widgets"))
    assert spctl("delete", "volumes", "rome").out == "volume/rome deleted\n"
    assert one_error_line(spctl("delete", "volume", "rome")) == 'error: volume "rome" not found'
    assert spctl("delete", "volume", "rome", "--ignore-not-found").code == 0
    assert [
        v["metadata"]["name"] for v in json.loads(spctl("get", "volumes", "-o", "json").out)
    ] == ["paris"]


def test_db_and_server_together_is_an_error(store_url: str) -> None:
    result = CliRunner().invoke(app, ["get", "volumes", "--db", store_url, "--server", "http://x"])
    assert result.exit_code != 0
    assert result.stderr == "error: give either --db or --server, not both\n"


def test_server_mode_needs_an_admin_and_reads_passwords_where_spctl_runs(
    tracker: Tracker, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "u.yaml", doc("User", "carol", "{class: user, passwordFromEnv: CAROL_PW}")
    )
    env = {"XDG_CONFIG_HOME": str(tmp_path), "SPCTL_TOKEN": tracker.token, "CAROL_PW": "c4rol"}
    runner = CliRunner()
    result = runner.invoke(app, ["apply", "-f", str(path), "--server", tracker.url], env=env)
    assert (result.exit_code, result.stdout) == (0, "user/carol created\n")
    with Client(tracker.url) as client:
        carol_token = client.signIn("carol", "c4rol")["token"]
    denied = runner.invoke(
        app,
        ["apply", "-f", str(path), "--server", tracker.url],
        env={**env, "SPCTL_TOKEN": carol_token},
    )
    assert denied.exit_code != 0 and denied.stderr.startswith("error: ")
    assert "Forbidden" in denied.stderr and len(denied.stderr.splitlines()) == 1
    anonymous = runner.invoke(
        app, ["get", "volumes", "--server", tracker.url], env={**env, "SPCTL_TOKEN": ""}
    )
    assert anonymous.exit_code != 0 and "401" in anonymous.stderr
    with Client(tracker.url, token=tracker.token) as admin:
        with pytest.raises(ApiError) as caught:
            admin.request("POST", "/api/declarative/apply", {"manifests": [], "dryRun": "yes"})
        assert (caught.value.status, caught.value.message) == (
            400,
            "Bad request: dryRun must be a boolean",
        )
        users = admin.request("GET", "/api/declarative/objects/users")
    assert [u["metadata"]["name"] for u in users] == ["admin", "carol"]
    assert "password" not in json.dumps(users)
