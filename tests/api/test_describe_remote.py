"""`spctl describe KIND NAME --server`: the same objects through the tracker's routes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spctl import app
from tests.api.conftest import ADMIN_PASSWORD
from tests.support.production import put_hub_and_paris

runner = CliRunner()


def test_describe_over_http(
    server_url: str, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("SPCTL_TOKEN", raising=False)
    login = ["login", "--server", server_url, "-u", "admin", "--password-stdin"]
    assert runner.invoke(app, login, input=ADMIN_PASSWORD + "\n").exit_code == 0
    shown = runner.invoke(app, ["describe", "user", "admin", "--server", server_url])
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.startswith("Name:  admin\nKind:  User\n")
    as_json = runner.invoke(
        app, ["describe", "user", "admin", "--server", server_url, "-o", "json"]
    )
    assert json.loads(as_json.stdout)["object"]["spec"]["class"] == "admin"
    missing = runner.invoke(app, ["describe", "hub", "hub", "--server", server_url])
    assert missing.exit_code == 1 and missing.stderr == 'error: hub "hub" not found\n'
    put_hub_and_paris(store_url, tmp_path)
    volume = runner.invoke(app, ["describe", "volume", "paris", "--server", server_url])
    assert volume.exit_code == 0, volume.stderr
    assert "Kind:  Volume" in volume.stdout and "Site:" in volume.stdout
    assert "files:" in volume.stdout
