"""Schemathesis against a live tracker (uvicorn on 127.0.0.1), on SQLite and PostgreSQL.

Every operation of the served `/openapi.json` (`api.openapi`) is called as admin with inputs
generated from its schemas, valid and invalid (Schemathesis' examples, coverage and fuzzing
phases). A reply must not be a 5xx, and must match the document: a documented status code,
its content type, its body schema and its required headers. Bounded and repeatable:
`SPCTL_FUZZ_EXAMPLES` examples per operation (the default takes about 30 s per store; `make
fuzz` raises it), in Schemathesis' deterministic mode (`SPCTL_FUZZ_SEED` for another
sequence), one worker.

The store first gets a hub, two volumes and a few published files (`fuzz_hooks.SEED`), and
half the generated ids point at them, so the routes that read or change existing files run.
Schemathesis runs as its own process (its CLI, the stable interface); the server runs here,
so a crash's traceback shows in this test's captured log.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from reconciler.store import Store
from tests.api import fuzz_hooks
from tests.api.conftest import ADMIN_PASSWORD, FAST_HASHER
from tests.support.servers import serving

EXAMPLES = int(os.environ.get("SPCTL_FUZZ_EXAMPLES") or 25)
# Unset: Schemathesis' deterministic mode (the same requests every run). A seed explores
# other inputs instead, and the same seed repeats them.
SEED = os.environ.get("SPCTL_FUZZ_SEED")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
ROOT = Path(__file__).resolve().parents[2]


def schemathesis_command(url: str, token: str, report: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{url}/openapi.json",
        f"--header=Authorization: Bearer {token}",
        f"--checks={','.join(CHECKS)}",
        "--phases=examples,coverage,fuzzing",
        "--mode=all",
        f"--max-examples={EXAMPLES}",
        f"--seed={SEED}" if SEED else "--generation-deterministic",
        "--generation-with-security-parameters=false",
        "--workers=1",
        # Hypothesis' health checks time data generation: on a loaded machine they would fail
        # the run for reasons that are not the API's.
        "--suppress-health-check=all",
        "--request-timeout=30",
        "--no-color",
        "--report=junit",
        f"--report-dir={report}",
    ]


def sign_in_and_seed(url: str) -> str:
    """The admin's token, after storing `fuzz_hooks.SEED` with it."""
    signed = httpx.post(f"{url}/api/signIn", json={"username": "admin", "password": ADMIN_PASSWORD})
    signed.raise_for_status()
    token: str = signed.json()["token"]
    for path, body in fuzz_hooks.SEED:
        seeded = httpx.post(f"{url}{path}", json=body, headers={"Authorization": f"Bearer {token}"})
        assert seeded.status_code == 201, seeded.text
    return token


@pytest.mark.fuzz
def test_api_holds_to_its_document(store_url: str, tmp_path: Path) -> None:
    settings = Settings(db_url=store_url, secret="fuzz-secret", admin_password=ADMIN_PASSWORD)
    store = Store.open(store_url)
    try:
        with serving(create_app(settings, store=store, hasher=FAST_HASHER)) as url:
            token = sign_in_and_seed(url)
            env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.fuzz_hooks"}
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
            started = time.monotonic()
            run = subprocess.run(
                schemathesis_command(url, token, tmp_path / "report"),
                cwd=tmp_path,  # no schemathesis.toml or .hypothesis/ picked up or left behind
                env=env,
                capture_output=True,
                text=True,
                timeout=3600,
                check=False,
            )
            elapsed = time.monotonic() - started
    finally:
        store.close()
    print(run.stdout[-20000:], run.stderr[-5000:], f"fuzzing took {elapsed:.0f} s", sep="\n")
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
