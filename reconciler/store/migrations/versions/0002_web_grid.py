"""Indexes for the web page's grid: keyset paging by time, path and priority
(architecture.md#performance).

Revision ID: 0002_web_grid
Revises: 0001

- `ix_nodes_kind_time (kind, time, id)`: files newest first, ties broken by id.
- `ix_nodes_kind_id (kind, id)`: files by path.
- `ix_fs_site_priority (site, priority, time, file_id)`: every file has a hub row, so the
  hub's rows give all files by priority (then newest) without a sort of a million rows.
"""

from alembic import op

revision = "0002_web_grid"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_nodes_kind_time": ("nodes", "kind, time, id"),
    "ix_nodes_kind_id": ("nodes", "kind, id"),
    "ix_fs_site_priority": ("file_sites", "site, priority, time, file_id"),
}


def upgrade() -> None:
    for name, (table, cols) in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({cols})")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
