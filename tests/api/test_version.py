"""The version is written once (pyproject.toml) and shown by `spctl --version` and `/healthz`."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.api.conftest import Api

ROOT = Path(__file__).resolve().parents[2]


def project_version() -> str:
    version: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return version


def test_spctl_version_is_the_one_in_pyproject() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from spctl import main; main()", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"spctl {project_version()}\n"


def test_healthz_shows_the_version(api: Api) -> None:
    reply = api.http.get("/healthz")
    assert reply.status_code == 200
    expected = {"status": "ok", "store": api.store.dialect, "version": project_version()}
    assert reply.json() == expected


def test_changelog_has_an_unreleased_section_and_this_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert f"## [{project_version()}] - " in text
