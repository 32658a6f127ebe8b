"""A throw-away PostgreSQL database per test session (SPCTL_TEST_PG names the server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

ENV = "SPCTL_TEST_PG"


def server_url() -> str | None:
    return os.environ.get(ENV)


@contextmanager
def scratch_database() -> Iterator[str]:
    """Create a fresh database on the SPCTL_TEST_PG server; drop it afterwards."""
    base = server_url()
    if not base:
        raise RuntimeError(f"{ENV} is not set")
    name = f"spctl_test_{uuid.uuid4().hex[:12]}"
    admin_url = (
        base if "+psycopg" in base else base.replace("postgresql://", "postgresql+psycopg://")
    )
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
