"""Failed sign-ins per account and per client address (the brute-force limit,
architecture.md#tracker-api).

Revision ID: 0005_signin_attempts
Revises: 0004_redundant_indexes

One row per key (`user:<username>` or `addr:<client address>`): the failures counted in the
current window and when that window started (epoch milliseconds). The limit lives in the store so
that every API process sharing it sees the same counts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_signin_attempts"
down_revision = "0004_redundant_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signin_attempts",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_start", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("signin_attempts")
