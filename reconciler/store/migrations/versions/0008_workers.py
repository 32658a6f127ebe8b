"""Reconciler workers: who holds which leases, and whether it is alive.

Revision ID: 0008_workers
Revises: 0007_site_samples

- `workers`: one row per reconciler process (`reconciler.jobs.workers`): host, boot id, pid and
  the process's start time (so a reused pid is not taken for the dead owner), when it
  started, its last heartbeat and the jobs it is running.
- `job_claims`: single-run jobs (a volume's scan, deletion propagation, trash purge, the
  digests) claimed like transfers, so that with N workers each runs once per period: the
  last run's time, and the owner and end of the lease of the run under way.
- `ix_fs_lease (lease_owner) WHERE lease_owner IS NOT NULL`: the few leased rows, so a
  heartbeat renews one worker's leases and a restart reclaims a dead one's without a scan.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_workers"
down_revision = "0007_site_samples"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("boot_id", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("proc_start", sa.BigInteger, nullable=False),
        sa.Column("started", sa.BigInteger, nullable=False),
        sa.Column("heartbeat", sa.BigInteger, nullable=False),
        sa.Column("jobs", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "job_claims",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("last_run", sa.BigInteger),
        sa.Column("lease_owner", sa.Text),
        sa.Column("lease_until", sa.BigInteger),
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_fs_lease ON file_sites (lease_owner) "
        "WHERE lease_owner IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_fs_lease")
    op.drop_table("job_claims")
    op.drop_table("workers")
