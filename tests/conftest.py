"""Shared fixtures: stores on SQLite and PostgreSQL, real sshd sites."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from reconciler.store import Store
from tests.support import pg
from tests.support.sshd import SshKeys, SshSite, sshd_available

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    if not pg.server_url():
        pytest.skip(f"PostgreSQL half skipped: {pg.ENV} is not set (CI sets it)")
    with pg.scratch_database() as url:
        yield url


def _truncate(store: Store) -> None:
    with store.engine.begin() as conn:
        for table in (
            "nodes",
            "file_sites",
            "site_counts",
            "meta",
            "applied",
            "signin_attempts",
            "workers",
            "job_claims",
            "site_samples",
        ):
            conn.execute(sa.text(f"DELETE FROM {table}"))


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty, migrated store: a new SQLite file, or the session's PG database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    url: str = request.getfixturevalue("pg_database")
    store = Store.open(url)
    _truncate(store)
    store.close()
    yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store.open(store_url)
    yield s
    s.close()


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> SshKeys:
    if not sshd_available():
        pytest.fail("sshd and rsync are required (install openssh-server and rsync)")
    return SshKeys(tmp_path_factory.mktemp("sshkeys"))


@pytest.fixture
def ssh_site(ssh_keys: SshKeys, tmp_path: Path) -> Iterator[Callable[[str], SshSite]]:
    """Factory: `ssh_site("paris")` starts a real sshd serving a fresh volume root."""
    started: list[SshSite] = []

    def make(name: str) -> SshSite:
        site = SshSite(name=name, dir=tmp_path / f"site-{name}", keys=ssh_keys).start()
        started.append(site)
        return site

    yield make
    for site in started:
        site.stop()
