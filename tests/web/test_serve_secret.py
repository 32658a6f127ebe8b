"""`spctl serve` takes its JWT secret from the environment or a file, never from a flag.

A real `spctl serve` (uvicorn) on 127.0.0.1: `--secret-file` signs the tokens (a restart
with the same secret in SPCTL_SECRET accepts them, another secret does not) and the
process's command line holds no secret; `--secret S` is refused with a message naming
the alternatives. The same server shows the documented proxy behaviour: uvicorn takes the
scheme from `X-Forwarded-Proto` sent from 127.0.0.1, so the session cookie is Secure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from typer.testing import CliRunner

from spctl import app
from tests.support.servers import free_port, server_process
from tests.support.spctl import SPCTL

PASSWORD = "serve-admin-pw"


@contextmanager
def serve(tmp_path: Path, *args: str, secret: str | None = None) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "SPCTL_HOME": str(tmp_path / "home"), "SPCTL_ADMIN_PASSWORD": PASSWORD}
    env.pop("SPCTL_SECRET", None)
    if secret is not None:
        env["SPCTL_SECRET"] = secret
    command = [*SPCTL, "serve", "--port", str(port), "--db", f"sqlite:///{tmp_path / 't.db'}"]
    with server_process(
        [*command, *args], port=port, logs=tmp_path, name="serve", env=env
    ) as server:
        cmdline = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes().replace(b"\0", b" ")
        assert b"--secret " not in cmdline and b"from-a-file" not in cmdline
        yield server.url


def sign_in(url: str) -> str:
    reply = httpx.post(f"{url}/api/signIn", json={"username": "admin", "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    token: str = reply.json()["token"]
    return token


def verify(url: str, token: str) -> int:
    return httpx.get(f"{url}/api/verify", headers={"Authorization": f"Bearer {token}"}).status_code


def test_secret_flag_is_refused_with_the_alternatives(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 't.db'}"
    command = [*SPCTL, "serve", "--secret", "visible-in-ps", "--port", str(free_port())]
    env = {**os.environ, "SPCTL_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [*command, "--db", db], env=env, capture_output=True, text=True, timeout=60
    )  # a server that started would not return: the timeout fails the test
    assert result.returncode == 2
    assert "SPCTL_SECRET" in result.stderr and "--secret-file" in result.stderr


def test_secret_file_signs_tokens_and_stays_out_of_ps(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file-0123456789\n")
    secret_file.chmod(0o600)
    with serve(tmp_path, "--secret-file", str(secret_file)) as url:
        token = sign_in(url)
        assert verify(url, token) == 200
        # Behind a TLS proxy on 127.0.0.1 (uvicorn's default --forwarded-allow-ips).
        origin = "https://" + url.removeprefix("http://")
        reply = httpx.post(
            f"{url}/web/signin",
            json={"username": "admin", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https", "Origin": origin},
        )
        assert reply.status_code == 200, reply.text
        assert "secure" in reply.headers["set-cookie"].lower()
    with serve(tmp_path, secret="from-a-file-0123456789") as url:
        assert verify(url, token) == 200  # the same secret, from the environment
    with serve(tmp_path, secret="another-secret") as url:
        assert verify(url, token) == 401
    empty = tmp_path / "empty"
    empty.write_text("\n")
    result = CliRunner().invoke(app, ["serve", "--secret-file", str(empty)])
    assert result.exit_code == 2 and "empty" in result.output
