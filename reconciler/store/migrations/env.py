"""Alembic environment: runs on the connection handed over by `reconciler.store.engine`."""

from __future__ import annotations

from alembic import context

from reconciler.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - we always migrate through reconciler.store
    raise RuntimeError("run migrations through `spctl db upgrade`")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
