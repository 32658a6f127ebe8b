"""Database engines and migrations for the two supported stores.

SQLite (the default; one file) is opened in WAL mode with a busy timeout, and write
transactions start with `BEGIN IMMEDIATE` so that concurrent writers queue up instead of
failing with "database is locked". PostgreSQL is reached with psycopg 3
(`postgresql+psycopg://...`). Alembic migrates both; a new database is migrated on first use.

`statement_limit(seconds)` bounds the statements run in its context (threads started from it
included: the limit travels in a context variable, so the reconciler sharing the engine is
unaffected): PostgreSQL gets `SET LOCAL statement_timeout` at the start of each transaction;
SQLite a progress handler that interrupts a statement once it has run `seconds`.
`is_statement_timeout(exc)` recognises the error either store then raises.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.store.private_files import private_dir, touch_private

_HERE = Path(__file__).resolve().parent
_LIMIT: ContextVar[float | None] = ContextVar("spctl_statement_limit", default=None)
_DEADLINE = "spctl_deadline"  # key of a connection's one-item deadline list in its info dict
_PROGRESS_STEPS = 10_000  # SQLite VM instructions between two looks at the clock
_PG_QUERY_CANCELED = "57014"


@contextmanager
def statement_limit(seconds: float | None) -> Iterator[None]:
    """Statements run inside (in this context) stop after `seconds`; None or 0: no limit."""
    token = _LIMIT.set(seconds or None)
    try:
        yield
    finally:
        _LIMIT.reset(token)


def is_statement_timeout(exc: BaseException) -> bool:
    """True for the error of a statement stopped by `statement_limit` (either store)."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == _PG_QUERY_CANCELED:
        return True
    return type(orig).__name__ == "OperationalError" and str(orig) == "interrupted"


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
    import sqlalchemy as sa

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
        _sqlite_deadlines(engine)
        return engine
    engine = sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    _pg_timeouts(engine)
    return engine


def _sqlite_tuning(engine: Engine) -> None:
    import sqlalchemy as sa

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


def _sqlite_deadlines(engine: Engine) -> None:
    import sqlalchemy as sa

    """Each statement restarts the clock; the handler interrupts it past the deadline."""

    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, record: Any) -> None:
        deadline: list[float | None] = [None]
        record.info[_DEADLINE] = deadline

        def past_deadline() -> int:
            limit = deadline[0]
            return int(limit is not None and time.monotonic() > limit)

        dbapi_conn.set_progress_handler(past_deadline, _PROGRESS_STEPS)

    def set_deadline(conn: sa.Connection, seconds: float | None) -> None:
        deadline = conn.connection.info.get(_DEADLINE)
        if deadline is not None:
            deadline[0] = time.monotonic() + seconds if seconds else None

    @sa.event.listens_for(engine, "before_cursor_execute")
    def on_statement(conn: sa.Connection, *_args: Any) -> None:
        # Driver-level statements (`reconciler.store.sql`) run under the last one's clock.
        set_deadline(conn, _LIMIT.get())

    @sa.event.listens_for(engine, "commit")
    @sa.event.listens_for(engine, "rollback")
    def on_end(conn: sa.Connection) -> None:
        set_deadline(conn, None)  # back in the pool without a deadline


def _pg_timeouts(engine: Engine) -> None:
    import sqlalchemy as sa

    @sa.event.listens_for(engine, "begin")
    def on_begin(conn: sa.Connection) -> None:
        seconds = _LIMIT.get()
        if seconds:
            # LOCAL: for this transaction only; the pooled connection keeps no limit.
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}")


if TYPE_CHECKING:  # SQLAlchemy and Alembic load on first use: `spctl get` may need neither
    import sqlalchemy as sa
    from alembic.config import Config
    from sqlalchemy.engine import Engine


def newest_revision() -> str:
    """The last migration's revision id: its file name (`0006_graph_edges`), numbered in order."""
    return max((p.stem for p in (_HERE / "migrations" / "versions").glob("[0-9]*.py")), default="")


def is_current(engine: Engine) -> bool:
    """The store is at the newest migration: one SELECT, without importing Alembic.

    `Store.open` asks first, so that a command on a current store (every one but the first
    after an upgrade) skips Alembic's start-up. Revision ids are the migration file names
    (`0006_graph_edges`), numbered in order: the newest is the greatest. Anything else (a new
    store, an older one) is for `current_revision`/`upgrade`.
    """
    import sqlalchemy as sa

    newest = newest_revision()
    try:
        with engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except sa.exc.DBAPIError:  # no alembic_version table: a new store
        return False
    return [row[0] for row in stored] == [newest]


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config(str(_HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    return cfg


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(engine: Engine) -> str | None:
    """Migrate to the newest schema; return the revision now in force."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return current_revision(engine)
