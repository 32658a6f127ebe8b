"""Files holding secrets are created 0600 (their folders 0700), never written then chmod-ed.

Checked on disk under the usual umask 022: the SQLite database with its WAL and SHM files,
the JWT secret, the CLI's tokens.json and the demo's credentials.json. An audit hook also
records every chmod the process makes: none may touch these files (a file written with the
default mode and chmod-ed after was readable by everyone in between).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from reconciler.services.demo import setup_demo
from reconciler.store import Store
from reconciler.store.private_files import create_private, write_private
from spctl.common import save_token, tokens_file

_CHMODS: list[str] = []
_WATCHING: list[bool] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WATCHING and event == "os.chmod" and isinstance(args[0], str | bytes | os.PathLike):
        _CHMODS.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # hooks cannot be removed; this one only records while watching


@contextmanager
def watching_chmod() -> Iterator[list[str]]:
    _CHMODS.clear()
    _WATCHING.append(True)
    try:
        yield _CHMODS
    finally:
        _WATCHING.clear()


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_database_wal_and_shm_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with watching_chmod() as chmods:
        store = Store.open(f"sqlite:///{data / 'tracker.db'}")
        try:
            with store.write() as tx:
                tx.insert({"_id": "/a", "origin": "paris", "time": 1})
            files = [data / name for name in ("tracker.db", "tracker.db-wal", "tracker.db-shm")]
            assert {f.name: oct(mode(f)) for f in files} == {f.name: "0o600" for f in files}
        finally:
            store.close()
    assert mode(data) == 0o700
    assert chmods == []


def test_jwt_secret_is_created_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SPCTL_HOME", str(home))
    monkeypatch.delenv("SPCTL_SECRET", raising=False)
    with watching_chmod() as chmods:
        first = Settings.from_env(db_url="sqlite:///unused.db")
    secret = home / "jwt-secret"
    assert len(first.secret) >= 40 and secret.read_text() == first.secret
    assert mode(secret) == 0o600 and mode(home) == 0o700
    assert chmods == []
    assert Settings.from_env(db_url="sqlite:///unused.db").secret == first.secret  # kept


def test_tokens_json_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with watching_chmod() as chmods:
        path = save_token("http://127.0.0.1:8090/", "token-one")
        save_token("http://other:8090", "token-two")
    assert path == tokens_file()
    assert json.loads(path.read_text()) == {
        "http://127.0.0.1:8090": "token-one",
        "http://other:8090": "token-two",
    }
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert chmods == []
    assert [p.name for p in path.parent.iterdir()] == ["tokens.json"]  # no temporary left


def test_demo_credentials_are_private(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'demo.db'}")
    try:
        with watching_chmod() as chmods:
            setup = setup_demo(store, tmp_path / "home", {"SPCTL_DEMO_BOB_PASSWORD": "env"})
    finally:
        store.close()
    credentials = tmp_path / "home" / "demo" / "credentials.json"
    assert json.loads(credentials.read_text()) == dict(setup.credentials)
    assert mode(credentials) == 0o600
    assert mode(tmp_path / "home") == 0o700 and mode(credentials.parent) == 0o700
    assert chmods == []


def test_an_older_readable_file_is_replaced_by_a_private_one(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{}")
    path.chmod(0o644)
    write_private(path, '{"a": 1}')
    assert mode(path) == 0o600 and path.read_text() == '{"a": 1}'
    assert create_private(path, "other") is False and path.read_text() == '{"a": 1}'
    assert create_private(tmp_path / "new", "x") is True and mode(tmp_path / "new") == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "tokens.json"]
