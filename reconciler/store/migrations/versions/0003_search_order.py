"""Indexes for searches on promoted keys, in `_id` order (issue 2, architecture.md#tracker-api).

Revision ID: 0003_search_order
Revises: 0002_web_grid

`origin:paris`, `author:bob` or `#parent:/a/b.exr` with a page of results ordered by `_id`
read one index range (`(origin, id)`, ...) instead of sorting every match: a page of 1,000
among a million files costs milliseconds on SQLite and PostgreSQL alike.
"""

from alembic import op

revision = "0003_search_order"
down_revision = "0002_web_grid"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_nodes_origin_id": ("nodes", "origin, id"),
    "ix_nodes_author_id": ("nodes", "author, id"),
    "ix_nodes_parent_id": ("nodes", "parent, id"),
}


def upgrade() -> None:
    for name, (table, cols) in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({cols})")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
