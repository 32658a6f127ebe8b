"""Initial schema: nodes, file_sites with the work-queue indexes, site_counts, meta, applied.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

QUEUE_INDEXES = {
    "ix_fs_reception": ("site, priority DESC, failed, time", "pending = 1 AND ready = 1"),
    "ix_fs_emission": ("site, origin, priority DESC, failed, time", "pending = 1"),
    "ix_fs_oldest": ("site, time", "pending = 1"),
    "ix_fs_removal": ("site, file_id", "removal = 1"),
}


def upgrade() -> None:
    json_type = sa.JSON().with_variant(JSONB(), "postgresql")
    op.create_table(
        "nodes",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent", sa.Text),
        sa.Column("origin", sa.Text),
        sa.Column("author", sa.Text),
        sa.Column("time", sa.BigInteger),
        sa.Column("doc", json_type, nullable=False),
    )
    for col in ("kind", "parent", "origin", "author", "time"):
        op.create_index(f"ix_nodes_{col}", "nodes", [col])
    op.create_table(
        "file_sites",
        sa.Column("file_id", sa.Text, primary_key=True),
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("wanted", sa.SmallInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("pending", sa.SmallInteger, nullable=False),
        sa.Column("ready", sa.SmallInteger, nullable=False),
        sa.Column("failed", sa.SmallInteger, nullable=False),
        sa.Column("removal", sa.SmallInteger, nullable=False),
        sa.Column("next_retry", sa.BigInteger),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("origin", sa.Text),
        sa.Column("lease_until", sa.BigInteger),
        sa.Column("lease_owner", sa.Text),
    )
    for name, (cols, where) in QUEUE_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON file_sites ({cols}) WHERE {where}")
    op.create_table(
        "site_counts",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), primary_key=True),
        sa.Column("files", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "applied",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("applied_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("applied", "meta", "site_counts", "file_sites", "nodes"):
        op.drop_table(table)
