"""Tables of the tracker store.

- `nodes`: every JSON object (files, users, configuration, history children), keyed by
  `_id`, with the keys that searches hit most promoted to indexed columns.
- `file_sites`: one row per (file, site) that matters, derived from the file document and
  the configuration by `reconciler.desired.site_rows`; its partial indexes are the work
  queues of SPEC §10 (pending rows only, in work order). Lease columns are the only data
  not derived from documents: they are the claims of reconciler workers (SPEC §9).
- `site_counts`: files and bytes per (site, state) of wanted rows, kept by deltas on every
  write so metrics and status never count millions of rows.
- `meta`: store-wide values (the configuration fingerprint the rows were derived with).
- `applied`: ids of objects that `spctl apply` owns (prune only touches these).
- `signin_attempts`: failed sign-ins per account and per client address in the current
  window (the brute-force limit, shared by every API process on the store).
Flags are small integers (0/1) so that partial-index predicates read the same on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class Node(SQLModel, table=True):
    __tablename__ = "nodes"

    id: str = Field(sa_column=sa.Column("id", sa.Text, primary_key=True))
    # kind, parent, origin and author are indexed with `id` (migrations 0002-0004)
    kind: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    parent: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    origin: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    author: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    time: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, index=True))
    doc: dict[str, Any] = Field(sa_column=sa.Column(JSONType, nullable=False))


class FileSite(SQLModel, table=True):
    __tablename__ = "file_sites"

    file_id: str = Field(sa_column=sa.Column(sa.Text, primary_key=True))
    site: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    wanted: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    state: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    pending: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    ready: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    failed: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    removal: int = Field(sa_column=sa.Column(sa.SmallInteger, nullable=False))
    next_retry: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger))
    priority: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    time: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    size: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    origin: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    lease_until: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger))
    lease_owner: str | None = Field(default=None, sa_column=sa.Column(sa.Text))


class SiteCount(SQLModel, table=True):
    __tablename__ = "site_counts"

    site: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    state: str = Field(sa_column=sa.Column(sa.String(16), primary_key=True))
    files: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    bytes: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


class Meta(SQLModel, table=True):
    __tablename__ = "meta"

    key: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    value: str = Field(sa_column=sa.Column(sa.Text, nullable=False))


class Applied(SQLModel, table=True):
    __tablename__ = "applied"

    id: str = Field(sa_column=sa.Column(sa.Text, primary_key=True))
    applied_at: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


class SigninAttempt(SQLModel, table=True):
    __tablename__ = "signin_attempts"

    key: str = Field(sa_column=sa.Column(sa.Text, primary_key=True))
    failures: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    window_start: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


nodes = Node.__table__  # type: ignore[attr-defined]
file_sites = FileSite.__table__  # type: ignore[attr-defined]
site_counts = SiteCount.__table__  # type: ignore[attr-defined]
meta = Meta.__table__  # type: ignore[attr-defined]
applied = Applied.__table__  # type: ignore[attr-defined]
signin_attempts = SigninAttempt.__table__  # type: ignore[attr-defined]

# The work queues (partial indexes over pending rows, in work order). Declared here and
# created by the migration with the same names.
QUEUE_INDEXES = {
    "ix_fs_reception": ("site, priority DESC, failed, time", "pending = 1 AND ready = 1"),
    "ix_fs_emission": ("site, origin, priority DESC, failed, time", "pending = 1"),
    "ix_fs_oldest": ("site, time", "pending = 1"),
    "ix_fs_removal": ("site, file_id", "removal = 1"),
}
