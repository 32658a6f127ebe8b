"""An index of the graph's edges: the nodes holding a `tgt_id`, by that target.

Revision ID: 0006_graph_edges
Revises: 0005_signin_attempts

damas-core's graph walks from nodes to the edges that point at them (`tgt_id`), then to their
sources (`src_id`). Edges are ordinary nodes, so without this index each step read every
document. A partial expression index holds only the nodes that have a `tgt_id` (a few, even
in a store of millions of files); `api.service.graph` queries it with the very expression
written here (SQLite matches index expressions textually).
"""

from alembic import op

revision = "0006_graph_edges"
down_revision = "0005_signin_attempts"
branch_labels = None
depends_on = None

# The expression `api.service` compares with, per dialect (keep the two in step).
TARGET = {
    "sqlite": "json_extract(doc, '$.tgt_id')",
    "postgresql": "(doc ->> 'tgt_id')",
}


def upgrade() -> None:
    target = TARGET[op.get_bind().dialect.name]
    op.execute(
        f"CREATE INDEX IF NOT EXISTS ix_nodes_edge_target ON nodes ({target}) "
        f"WHERE {target} IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_nodes_edge_target")
