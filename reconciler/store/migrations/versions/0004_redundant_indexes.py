"""Drop the single-column node indexes that a composite index already covers.

Revision ID: 0004_redundant_indexes
Revises: 0003_search_order

`ix_nodes_kind`, `ix_nodes_origin`, `ix_nodes_author` and `ix_nodes_parent` are the leading
column of `ix_nodes_kind_id` (0002), `ix_nodes_origin_id`, `ix_nodes_author_id` and
`ix_nodes_parent_id` (0003): every query they served, the composite serves as well, while
every insert of a node (and every SQLite update setting those columns) paid for both.
`ix_nodes_time` stays: searches by time across kinds use it.
"""

from alembic import op

revision = "0004_redundant_indexes"
down_revision = "0003_search_order"
branch_labels = None
depends_on = None

COLUMNS = ("kind", "origin", "author", "parent")


def upgrade() -> None:
    for col in COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_nodes_{col}")


def downgrade() -> None:
    for col in COLUMNS:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_nodes_{col} ON nodes ({col})")
