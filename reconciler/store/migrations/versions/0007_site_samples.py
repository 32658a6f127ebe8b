"""Per-site activity history for the web page's charts, and the files in error.

Revision ID: 0007_site_samples
Revises: 0006_graph_edges

- `site_samples`: one row per site and minute (copies delivered, backlog after the last
  write of that minute), kept a day (`reconciler.store.samples`). Seeded with each site's
  backlog now, so that a minute before a site's first row had a backlog of 0.
- `ix_fs_failed (file_id) WHERE failed = 1`: the files whose last attempt failed on some
  site, for the grid's "errors only" filter (few rows, even among millions of files).
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0007_site_samples"
down_revision = "0006_graph_edges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_samples",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("minute", sa.BigInteger, primary_key=True),
        sa.Column("delivered_files", sa.BigInteger, nullable=False),
        sa.Column("delivered_bytes", sa.BigInteger, nullable=False),
        sa.Column("backlog_files", sa.BigInteger, nullable=False),
        sa.Column("backlog_bytes", sa.BigInteger, nullable=False),
    )
    now = int(time.time() * 1000)
    op.get_bind().execute(
        sa.text(
            "INSERT INTO site_samples (site, minute, delivered_files, delivered_bytes, "
            "backlog_files, backlog_bytes) SELECT site, :minute, 0, 0, SUM(files), SUM(bytes) "
            "FROM site_counts WHERE state <> 'synced' GROUP BY site"
        ),
        {"minute": now - now % 60_000},
    )
    op.execute("CREATE INDEX IF NOT EXISTS ix_fs_failed ON file_sites (file_id) WHERE failed = 1")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_fs_failed")
    op.drop_table("site_samples")
