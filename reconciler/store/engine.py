"""Database engines and migrations for the two supported stores.

SQLite (the default; one file) is opened in WAL mode with a busy timeout, and write
transactions start with `BEGIN IMMEDIATE` so that concurrent writers queue up instead of
failing with "database is locked". PostgreSQL is reached with psycopg 3
(`postgresql+psycopg://...`). Alembic migrates both; a new database is migrated on first use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from reconciler.private_files import private_dir, touch_private

_HERE = Path(__file__).resolve().parent


def data_home() -> Path:
    """Where the embedded default keeps its database, demo volumes and hub (SPCTL_HOME)."""
    explicit = os.environ.get("SPCTL_HOME")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "syncplanet"


def default_db_url() -> str:
    return os.environ.get("SPCTL_DB") or f"sqlite:///{data_home() / 'syncplanet.db'}"


def normalize_url(url: str) -> str:
    """Accept a bare file path for SQLite and the short `postgresql://` form."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        path = path.split("?", 1)[0]
        if path and path != ":memory:":
            # Created here with its final mode before SQLite opens it: the WAL and SHM files
            # then get the same 0600 (SQLite copies the database file's mode).
            private_dir(Path(path).parent)
            touch_private(Path(path))
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})
        _sqlite_tuning(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_tuning(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see on_begin)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def alembic_config() -> Config:
    cfg = Config(str(_HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(engine: Engine) -> str | None:
    """Migrate to the newest schema; return the revision now in force."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return current_revision(engine)
