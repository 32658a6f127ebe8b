"""`spctl publish/lock/unlock/login`, `spctl db upgrade` and `spctl serve`, run for real."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from reconciler.store import Store
from spctl import app
from tests.api.conftest import ADMIN_PASSWORD
from tests.support.servers import free_port, server_process
from tests.support.spctl import SPCTL

runner = CliRunner()


def spctl(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_db_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code, out, _ = spctl("db", "upgrade", "--db", url)
    assert code == 0 and "upgraded from empty" in out
    code, out, _ = spctl("db", "upgrade", "--db", url)
    assert code == 0 and "(unchanged)" in out
    code, _, err = spctl("db", "upgrade", "--server", "http://x")
    assert code == 2 and err.startswith("error: ")


def test_publish_lock_unlock_on_a_store(store_url: str) -> None:
    code, out, _ = spctl(
        "publish",
        "/shots/a.exr",
        "--origin",
        "paris",
        "--comment",
        "v1",
        "--priority",
        "3",
        "--db",
        store_url,
    )
    assert code == 0 and out.strip() == "published /shots/a.exr (origin paris)"
    store = Store.open(store_url)
    with store.read() as tx:
        doc = tx.get("/shots/a.exr")
    store.close()
    assert doc is not None and doc["sync_priority"] == 3 and doc["synced_paris"] == doc["time"]
    code, _, err = spctl("publish", "/shots/a.exr", "--origin", "paris", "--db", store_url)
    assert code == 1 and err.startswith("error: Publish error: Conflict")
    code, _, err = spctl("publish", "/a/../b", "--origin", "paris", "--db", store_url)
    assert code == 2 and "'..'" in err and "Traceback" not in err
    code, _, err = spctl("publish", "/b.exr", "--origin", "paris", "-o", "xml", "--db", store_url)
    assert code == 2 and err == 'error: unknown output format "xml": use table, json or yaml\n'
    code, out, _ = spctl("publish", "/b.exr", "--origin", "paris", "-o", "yaml", "--db", store_url)
    assert code == 0 and out.startswith("- /b.exr\n")  # the reply, as YAML
    assert spctl("lock", "/shots/a.exr", "--db", store_url)[:2] == (0, "locked /shots/a.exr\n")
    assert spctl("unlock", "/shots/a.exr", "--db", store_url)[0] == 0
    code, _, err = spctl("unlock", "/shots/a.exr", "--db", store_url)
    assert code == 1 and "not locked" in err


def test_login_then_commands_over_http(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("SPCTL_TOKEN", raising=False)
    code, _, err = spctl(
        "login", "--server", server_url, "--username", "admin", "--password-stdin", input="wrong\n"
    )
    assert code == 1 and "Invalid username or password" in err
    code, out, _ = spctl(
        "login",
        "--server",
        server_url,
        "--username",
        "admin",
        "--password-stdin",
        input=ADMIN_PASSWORD + "\n",
    )
    assert code == 0 and out.startswith(f"logged in to {server_url} as admin")
    assert (tmp_path / "config" / "syncplanet" / "tokens.json").exists()
    assert spctl("publish", "/x.exr", "--origin", "lyon", "--server", server_url)[0] == 0
    assert spctl("lock", "/x.exr", "--server", server_url)[0] == 0
    assert spctl("unlock", "/x.exr", "--server", server_url)[0] == 0
    code, _, err = spctl("unlock", "/x.exr", "--server", server_url)
    assert code == 1 and err.startswith("error: ")
    code, _, err = spctl("publish", "/x.exr", "--origin", "lyon", "--server", server_url)
    assert code == 1 and "Conflict" in err


def test_serve_creates_the_admin_once_and_answers(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SPCTL_HOME": str(tmp_path / "home"), "SPCTL_SECRET": "x"}
    env.pop("SPCTL_ADMIN_PASSWORD", None)
    env.pop("SPCTL_DB", None)
    command = [*SPCTL, "serve", "--port", str(port), "--log-level", "warning"]
    with server_process(
        command, port=port, logs=tmp_path, name="serve", env=env, merge_output=False
    ) as server:
        line = server.stderr().partition("\n")[0]
        match = re.search(r"user 'admin' with password (\S+)", line)
        assert match, line
        signed = httpx.post(
            server.url + "/api/signIn", json={"username": "admin", "password": match.group(1)}
        )
        assert signed.status_code == 200
