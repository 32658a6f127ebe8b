"""`spctl status`, `spctl describe file`, `spctl explain` with --db (both stores) and --server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from argon2 import PasswordHasher
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from api.app import create_app
from api.settings import Settings
from reconciler.services.metrics import Metrics
from reconciler.store import Store
from spctl import app
from tests.observability.seed import MIN, NOW, seed
from tests.support.servers import serving

FILES = [
    {"_id": "/shots/a.exr", "origin": "paris", "time": NOW - 9 * MIN, "file_size": 2048,
     "synced_hub": NOW - 8 * MIN, "syncError_tokyo": 23, "syncLastAttempt_tokyo": NOW - MIN},
    {"_id": "/shots/b.exr", "origin": "paris", "time": NOW - 7 * MIN, "file_size": 20},
]  # fmt: skip


def spctl(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(store_url: str) -> Iterator[str]:
    store = Store.open(store_url)
    seed(store, *FILES)
    store.close()
    yield store_url


def test_status_table_and_json(db: str) -> None:
    code, out, _ = spctl("status", "--db", db)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["SITE", "ROLE", "REACHABLE", "SYNCED"]
    tokyo = next(line for line in lines if line.startswith("tokyo"))
    assert tokyo.split()[:8] == ["tokyo", "volume", "yes", "0", "0", "1", "0", "1"]
    assert "\nlondon   volume   " in out  # three spaces between columns, as in every table
    code, out, _ = spctl("status", "--db", db, "-o", "json")
    sites = {s["site"]: s for s in json.loads(out)}
    assert sites["hub"]["files"]["missing"] == 1 and sites["hub"]["pending_bytes"] == 20
    assert sites["tokyo"]["pending_bytes"] == 2068  # a.exr in error, b.exr waiting


def test_describe_file(db: str) -> None:
    code, out, _ = spctl("describe", "file", "/shots/a.exr", "--db", db)
    assert code == 0
    assert "Origin:    paris" in out and "Size:      2.0 KiB" in out
    tokyo = next(line for line in out.splitlines() if line.startswith("tokyo"))
    assert tokyo.split()[:4] == ["tokyo", "volume", "yes", "error"]
    assert " 23 " in tokyo
    code, out, _ = spctl("describe", "file", "/shots/a.exr", "--db", db, "-o", "json")
    assert json.loads(out)["sites"][0]["site"] == "hub"


def test_explain(db: str) -> None:
    code, out, _ = spctl("explain", "/shots/a.exr", "--site", "tokyo", "--db", db)
    assert code == 0
    assert out.startswith("/shots/a.exr on tokyo: error on tokyo (wanted: global "
                          "syncEverywhere=true)")  # fmt: skip
    assert "exit 23 (partial transfer due to error)" in out
    code, out, _ = spctl("explain", "/shots/b.exr", "--db", db)
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "/shots/b.exr on hub", "/shots/b.exr on london", "/shots/b.exr on paris",
        "/shots/b.exr on tokyo",
    ]  # fmt: skip
    assert "waiting for the hub copy" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["explain", "/nope"], "error: file /nope is not tracked"),
        (["explain", "/shots/a.exr", "--site", "mars"], "error: site: no hub or volume named"),
        (["describe", "file", "shots/a.exr"], "error: path: file _id must start with '/'"),
        (["status", "-o", "xml"], 'error: unknown output format "xml": use table, json or yaml'),
    ],
)
def test_errors_are_one_line(db: str, args: list[str], message: str) -> None:
    code, _, err = spctl(*args, "--db", db)
    assert code != 0
    assert err.strip().startswith(message) and len(err.strip().splitlines()) == 1


def test_the_same_through_a_tracker(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(store, *FILES)
    settings = Settings(db_url="unused://", secret="s", admin_password="pw")
    tracker = create_app(
        settings,
        store=store,
        metrics=Metrics(CollectorRegistry()),
        hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )
    with serving(tracker) as url:
        token = httpx.post(f"{url}/api/signIn", json={"username": "admin", "password": "pw"})
        monkeypatch.setenv("SPCTL_TOKEN", token.json()["token"])
        code, out, _ = spctl("status", "--server", url, "-o", "json")
        assert code == 0 and {s["site"] for s in json.loads(out)} == {
            "hub",
            "london",
            "paris",
            "tokyo",
        }
        code, out, _ = spctl("explain", "/shots/a.exr", "--site", "tokyo", "--server", url)
        assert code == 0 and "exit 23" in out
        code, out, _ = spctl("describe", "file", "/shots/b.exr", "--server", url)
        assert code == 0 and "File:      /shots/b.exr" in out
        code, _, err = spctl("explain", "/nope", "--server", url)
        assert code != 0 and "404" in err and "/nope is not tracked" in err
        monkeypatch.setenv("SPCTL_TOKEN", "bad")
        code, _, err = spctl("status", "--server", url)
        assert code != 0 and "401" in err
