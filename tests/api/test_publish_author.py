"""Who a file published from spctl is by: the signed-in tracker user, or the local author."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.store import Store
from spctl import app
from tests.api.conftest import ADMIN_PASSWORD

runner = CliRunner()


def author_of(store_url: str, file_id: str) -> object:
    store = Store.open(store_url)
    try:
        with store.read() as tx:
            doc = tx.get(file_id)
    finally:
        store.close()
    assert doc is not None
    return doc["author"]


def test_publish_over_http_is_by_the_signed_in_user(
    server_url: str, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("SPCTL_TOKEN", raising=False)
    monkeypatch.setenv("SPCTL_AUTHOR", "not-used-over-http")
    login = ["login", "--server", server_url, "-u", "admin", "--password-stdin"]
    assert runner.invoke(app, login, input=ADMIN_PASSWORD + "\n").exit_code == 0
    publish = ["publish", "/a.exr", "--origin", "lyon", "--server", server_url]
    published = runner.invoke(app, publish)
    assert published.exit_code == 0, published.stderr
    assert author_of(store_url, "/a.exr") == "admin"


def test_publish_on_a_store_is_by_spctl_author(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPCTL_AUTHOR", "alice")
    published = runner.invoke(app, ["publish", "/b.exr", "--origin", "lyon", "--db", store_url])
    assert published.exit_code == 0, published.stderr
    assert author_of(store_url, "/b.exr") == "alice"
