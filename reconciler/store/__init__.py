"""The tracker store: JSON documents plus the derived per-site work queues.

`Store.open(url)` gives a migrated store on SQLite or PostgreSQL. `store.read()` and
`store.write()` yield a `Tx` (see `documents`); queue and aggregate queries live in `queue`.
Importing the package costs nothing: SQLAlchemy loads with `documents` on first use, so that
`reconciler.store.lite` (the start-up path of `spctl get`) can live here without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from reconciler.store import engine as engines

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from reconciler.store.documents import Doc, Tx

__all__ = ["Doc", "Store", "Tx"]


def __getattr__(name: str) -> Any:
    """`from reconciler.store import Tx, Doc`: loaded with `documents` when first asked for."""
    if name in ("Doc", "Tx"):
        from reconciler.store import documents

        return getattr(documents, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str | None = None, *, migrate: bool = True) -> Store:
        engine = engines.make_engine(url or engines.default_db_url())
        if (
            migrate
            and not engines.is_current(engine)  # one SELECT; Alembic only when behind
            and engines.current_revision(engine) != engines.head_revision()
        ):
            engines.upgrade(engine)
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        """The store's URL as it may be shown (password hidden)."""
        return self.engine.url.render_as_string(hide_password=True)

    def is_empty(self) -> bool:
        """No object at all: not even the configuration a first `spctl apply` writes."""
        with self.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT 1 FROM nodes LIMIT 1").first() is None

    @contextmanager
    def read(self) -> Iterator[Tx]:
        from reconciler.store.documents import Tx

        with self.engine.connect() as conn, conn.begin():
            yield Tx(conn)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        from reconciler.store.documents import Tx

        options = {"sqlite_begin": "IMMEDIATE"} if self.dialect == "sqlite" else {}
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            tx = Tx(conn)
            yield tx
            tx.settle()

    def close(self) -> None:
        self.engine.dispose()
