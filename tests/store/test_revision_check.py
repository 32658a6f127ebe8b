"""The cheap migration check of `Store.open`: one SELECT on a current store, Alembic otherwise.

Both stores: the newest migration file is Alembic's head, a current store is recognised
without Alembic, and a store left at an older revision (or a new one) is still upgraded.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command

from reconciler.store import Store
from reconciler.store import engine as engines


def test_the_newest_migration_file_is_alembics_head() -> None:
    assert engines.newest_revision() == engines.head_revision()


def test_a_current_store_is_recognised(store_url: str) -> None:
    Store.open(store_url).close()
    engine = engines.make_engine(store_url)
    try:
        assert engines.is_current(engine)
    finally:
        engine.dispose()


def test_a_new_or_older_store_is_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = engines.make_engine(url)
    try:
        assert not engines.is_current(engine)  # no alembic_version table yet
        cfg = engines.alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0005_signin_attempts")
        assert not engines.is_current(engine)
        Store.open(url).close()
        assert engines.is_current(engine)
        assert engines.current_revision(engine) == engines.head_revision()
    finally:
        engine.dispose()
