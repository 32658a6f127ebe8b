"""The store's exceptions, named for the packages above it (which import no SQLAlchemy).

They are SQLAlchemy's own classes: the store raises them as the driver reports them, and a
caller catches them by these names. `QueryError` (a query the caller got wrong) is in
`reconciler.store.query`.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

StoreError = SQLAlchemyError  # any failure of the store: unreachable, refused, stopped
StoreUnavailable = OperationalError  # the database is unreachable or stopped a statement
DuplicateKey = IntegrityError  # a row with that key exists (another process won a race)

__all__ = ["DuplicateKey", "StoreError", "StoreUnavailable"]
