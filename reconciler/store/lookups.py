"""Small indexed reads of the tracker for the API: a user by e-mail address, whether any
user exists, how many children a node has."""

from __future__ import annotations

import sqlalchemy as sa

from reconciler.core.domain import NodeKind
from reconciler.store.documents import Tx
from reconciler.store.schema import nodes


def user_id_by_email(tx: Tx, email: str) -> str | None:
    """The `_id` of a user document whose `email` is `email` (the first found), or None."""
    address = nodes.c.doc["email"].as_string()
    row = tx.conn.execute(
        sa.select(nodes.c.id).where(nodes.c.kind == NodeKind.USER.value, address == email).limit(1)
    ).first()
    return str(row[0]) if row else None


def any_user(tx: Tx) -> bool:
    """True once the store holds a user document."""
    query = sa.select(nodes.c.id).where(nodes.c.kind == NodeKind.USER.value).limit(1)
    return tx.conn.execute(query).first() is not None


def child_count(tx: Tx, parent: str) -> int:
    """How many nodes have `#parent` = `parent` (the indexed `parent` column)."""
    query = sa.select(sa.func.count()).select_from(nodes).where(nodes.c.parent == parent)
    return int(tx.conn.execute(query).scalar() or 0)
