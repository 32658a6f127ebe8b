"""`spctl` as the tests run it in a child process, and what the tests read of its leases."""

from __future__ import annotations

import sys

import sqlalchemy as sa

from reconciler.store import Store
from reconciler.store.schema import file_sites

# The CLI through this interpreter (the venv's entry script may be absent in a bare checkout).
SPCTL = [sys.executable, "-c", "from spctl import main; main()"]


def reconcile_argv(store_url: str, *extra: str) -> list[str]:
    """`spctl reconcile` on the store at `store_url`, logging warnings only."""
    return [*SPCTL, "reconcile", "--db", store_url, "--log-level", "warning", *extra]


def lease_counts(store: Store) -> dict[str, int]:
    """How many (file, site) rows each worker holds a lease on."""
    c = file_sites.c
    with store.read() as tx:
        rows = tx.conn.execute(
            sa.select(c.lease_owner, sa.func.count())
            .where(c.lease_owner.is_not(None))
            .group_by(c.lease_owner)
        )
        return {str(owner): int(n) for owner, n in rows}
