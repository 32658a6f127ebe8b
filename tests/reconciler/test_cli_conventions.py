"""spctl's kubectl conventions, run as a user would (real processes on a demo store).

`describe KIND NAME` for every configuration kind, `-o json|yaml` on status, describe and
explain, one time format, --help without `<bool>`, `spctl run` on a busy port, the store
path said when the default store is empty or new, the bench's CLI and the Makefile knobs,
and a no-op scan logged at DEBUG (a scan that changed something at INFO).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from reconciler.jobs.scan import scan_volume
from reconciler.jobs.scheduler import open_session
from reconciler.services.demo import setup_demo
from reconciler.services.metrics import Metrics
from reconciler.store import Store
from tests.support.spctl import SPCTL

ROOT = Path(__file__).resolve().parents[2]
TIME = re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\b")
ISO_T = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SPCTL, *args], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo store (hub, three volumes, two users, four sync targets), scanned once."""
    home = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{home / 'store.db'}"
    store = Store.open(url)
    try:
        setup_demo(store, home, {})
        session = open_session(store, metrics=Metrics())
        try:
            scan_volume(session.rt, "paris")
        finally:
            session.close()
    finally:
        store.close()
    yield url


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("volume", "paris", ["Kind:  Volume", "enableEmission:", "Site:", "files:"]),
        ("hub", "hub", ["Kind:  Hub", "Site:", "reachable:"]),
        ("user", "alice", ["Kind:  User", "class:", "admin"]),
        ("synctarget", "assets", ["Kind:  SyncTarget", "paths:"]),
        ("globalparameters", "rsyncGlobalParameters", ["Kind:  GlobalParameters"]),
    ],
)
def test_describe_every_kind(demo: str, kind: str, name: str, expected: list[str]) -> None:
    done = run("describe", kind, name, "--db", demo)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Name:  {name}\n")
    for text in expected:
        assert text in done.stdout
    assert TIME.search(done.stdout), "the object's time is shown in spctl's format"
    assert not ISO_T.search(done.stdout)
    as_json = json.loads(run("describe", kind, name, "--db", demo, "-o", "json").stdout)
    as_yaml = yaml.safe_load(run("describe", kind, name, "--db", demo, "-o", "yaml").stdout)
    assert as_json == as_yaml
    assert as_json["object"]["metadata"]["name"] == name
    assert (as_json["site"] is not None) == (kind in ("volume", "hub"))


def test_describe_missing_object(demo: str) -> None:
    done = run("describe", "volume", "nowhere", "--db", demo)
    assert done.returncode == 1
    assert done.stderr == 'error: volume "nowhere" not found\n'


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["describe", "file", "/nothing/yet.exr"],
        ["explain", "/nothing/yet.exr"],
    ],
)
def test_json_and_yaml_outputs_agree(demo: str, args: list[str]) -> None:
    if args[0] != "status":  # a tracked file first
        store = Store.open(demo)
        with store.write() as tx:
            if tx.get(args[-1]) is None:
                tx.insert({"_id": args[-1], "origin": "paris", "time": 1_700_000_000_000})
        store.close()
    as_json = run(*args, "--db", demo, "-o", "json")
    as_yaml = run(*args, "--db", demo, "-o", "yaml")
    assert as_json.returncode == as_yaml.returncode == 0, as_json.stderr + as_yaml.stderr
    assert json.loads(as_json.stdout) == yaml.safe_load(as_yaml.stdout)
    wrong = run(*args, "--db", demo, "-o", "xml")
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: unknown output format")


def test_one_time_format_in_get_wide_and_describe(demo: str) -> None:
    wide = run("get", "volumes", "--db", demo, "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    assert TIME.search(wide.stdout) and not ISO_T.search(wide.stdout)
    store = Store.open(demo)
    with store.write() as tx:
        if tx.get("/t/one.exr") is None:
            tx.insert({"_id": "/t/one.exr", "origin": "paris", "time": 1_700_000_000_000})
    store.close()
    described = run("describe", "file", "/t/one.exr", "--db", demo)
    assert "Time:      2023-11-14 22:13:20Z" in described.stdout


def all_help_pages() -> list[list[str]]:
    from spctl import app

    pages: list[list[str]] = [[]]
    for group in app.registered_groups:
        sub = group.typer_instance
        assert sub is not None and group.name is not None
        pages += [[group.name, str(c.name)] for c in sub.registered_commands]
    pages += [[str(c.name)] for c in app.registered_commands]
    return pages


def test_help_pages_show_no_bool_type() -> None:
    for page in all_help_pages():
        done = run(*page, "--help")
        assert done.returncode == 0, (page, done.stderr)
        assert "<bool>" not in done.stdout, page
    assert "--version" in run("--help").stdout
    assert "Usage: spctl get [OPTIONS] {KIND} [NAME]" in run("get", "--help").stdout


def test_run_on_a_busy_port_fails_at_once_with_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        env = {**os.environ, "SPCTL_HOME": str(tmp_path / "home")}
        env.pop("SPCTL_DB", None)
        done = run("run", "--demo", "--port", str(port), env=env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use (choose another --port)"
    ]
    assert done.stdout == ""
    assert not (tmp_path / "home").exists(), "nothing is started or created before the bind"


def test_read_commands_name_the_default_store_when_empty_or_new(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SPCTL_HOME", "SPCTL_DB")}
    env["XDG_DATA_HOME"] = str(tmp_path)
    path = tmp_path / "syncplanet" / "syncplanet.db"
    first = run("status", env=env)
    assert first.returncode == 0
    assert f"spctl: store sqlite:///{path} (new, empty;" in first.stderr
    again = run("get", "volumes", env=env)
    assert f"spctl: store sqlite:///{path} (empty;" in again.stderr
    env["SPCTL_HOME"] = str(tmp_path / "syncplanet")  # named explicitly: nothing to say
    assert "spctl: store" not in run("status", env=env).stderr


def test_bench_has_a_command_line() -> None:
    def bench(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tests.bench", *args],
            capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip

    helped = bench("--help")
    assert helped.returncode == 0
    for option in ("--only", "--scale", "--help"):
        assert option in helped.stdout
    listed = bench("--list", "--only", "api,scan")
    assert listed.stdout.split() == ["api", "scan"]
    assert bench("--only", "nothing").returncode == 2


def test_makefile_run_takes_host_and_port_and_lint_installs_first() -> None:
    done = subprocess.run(
        ["make", "-n", "run", "PORT=9123", "HOST=0.0.0.0"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert "spctl run --demo --host 0.0.0.0 --port 9123" in done.stdout
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lint: install\b", makefile, re.MULTILINE)


def test_a_no_op_scan_logs_at_debug(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        folders = setup_demo(store, tmp_path, {}).folders
        (folders["paris"] / "new.txt").write_text("new")
        session = open_session(store, metrics=Metrics())
        try:
            with caplog.at_level(logging.DEBUG, logger="reconciler.jobs.scan.volume"):
                scan_volume(session.rt, "paris")
                scan_volume(session.rt, "paris")
        finally:
            session.close()
    finally:
        store.close()
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if "scan paris" in r.getMessage()]
    assert [level for level, _ in lines] == [logging.INFO, logging.DEBUG], lines
