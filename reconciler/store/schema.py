"""Tables of the tracker store.

- `nodes`: every JSON object (files, users, configuration, history children), keyed by
  `_id`, with the keys that searches hit most promoted to indexed columns.
- `file_sites`: one row per (file, site) that matters, derived from the file document and
  the configuration by `reconciler.core.desired.site_rows`; its partial indexes are the work
  queues of architecture.md#performance (pending rows only, in work order). Lease columns are the
  only data not derived from documents: they are the claims of reconciler workers
  (architecture.md#scale-out).
- `site_counts`: files and bytes per (site, state) of wanted rows, kept by deltas on every
  write so metrics and status never count millions of rows.
- `site_samples`: per site and minute, the copies that became synced there and the backlog
  after the minute's last write (`reconciler.store.samples`: the web page's last hour).
- `meta`: store-wide values (the configuration fingerprint the rows were derived with).
- `applied`: ids of objects that `spctl apply` owns (prune only touches these).
- `signin_attempts`: failed sign-ins per account and per client address in the current
  window (the brute-force limit, shared by every API process on the store).
- `workers`: the reconciler processes (`reconciler.jobs.workers`): identity, heartbeat, jobs
  running; `file_sites.lease_owner` names a row here.
- `job_claims`: single-run jobs claimed once per period across workers (`store.workers`).
Flags are small integers (0/1) so that partial-index predicates read the same on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
# SQLAlchemy Core tables (no ORM, no SQLModel): every command that opens the store imports
# this module, and a model layer cost spctl hundreds of milliseconds at start-up.
metadata = sa.MetaData(naming_convention={"ix": "ix_%(column_0_label)s"})

nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    # kind, parent, origin and author are indexed with `id` (migrations 0002-0004)
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("parent", sa.Text),
    sa.Column("origin", sa.Text),
    sa.Column("author", sa.Text),
    sa.Column("time", sa.BigInteger, index=True),
    sa.Column("doc", JSONType, nullable=False),
)

file_sites = sa.Table(
    "file_sites",
    metadata,
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

site_counts = sa.Table(
    "site_counts",
    metadata,
    sa.Column("site", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(16), primary_key=True),
    sa.Column("files", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
)

site_samples = sa.Table(
    "site_samples",
    metadata,
    sa.Column("site", sa.String(64), primary_key=True),
    sa.Column("minute", sa.BigInteger, primary_key=True),  # ms, a multiple of 60,000
    sa.Column("delivered_files", sa.BigInteger, nullable=False),
    sa.Column("delivered_bytes", sa.BigInteger, nullable=False),
    sa.Column("backlog_files", sa.BigInteger, nullable=False),
    sa.Column("backlog_bytes", sa.BigInteger, nullable=False),
)

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

applied = sa.Table(
    "applied",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("applied_at", sa.BigInteger, nullable=False),
)

signin_attempts = sa.Table(
    "signin_attempts",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("window_start", sa.BigInteger, nullable=False),
)

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("boot_id", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("proc_start", sa.BigInteger, nullable=False),  # clock ticks after boot
    sa.Column("started", sa.BigInteger, nullable=False),  # ms
    sa.Column("heartbeat", sa.BigInteger, nullable=False),  # ms
    sa.Column("jobs", sa.Text, nullable=False, server_default=""),  # running job ids
)

job_claims = sa.Table(
    "job_claims",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),  # `scan:paris`, `purge`, `notify`...
    sa.Column("last_run", sa.BigInteger),  # ms, when the last run started
    sa.Column("lease_owner", sa.Text),
    sa.Column("lease_until", sa.BigInteger),
)

# The work queues (partial indexes over pending rows, in work order). Declared here and
# created by the migration with the same names.
QUEUE_INDEXES = {
    "ix_fs_reception": ("site, priority DESC, failed, time", "pending = 1 AND ready = 1"),
    "ix_fs_emission": ("site, origin, priority DESC, failed, time", "pending = 1"),
    "ix_fs_oldest": ("site, time", "pending = 1"),
    "ix_fs_removal": ("site, file_id", "removal = 1"),
}
