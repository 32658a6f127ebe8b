"""The `signin_attempts` table: failed sign-ins counted per key in a time window.

The policy (which keys, how many failures, how long a window) is the API's
(`api.signin_limits`); these are its three statements.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from reconciler.store.documents import Tx
from reconciler.store.schema import signin_attempts

# Atomic on both stores: concurrent failures of one key all count, none is lost.
_COUNT_FAILURE = sa.text(
    """
    INSERT INTO signin_attempts (key, failures, window_start) VALUES (:key, 1, :now)
    ON CONFLICT (key) DO UPDATE SET
      failures = CASE WHEN signin_attempts.window_start <= :expired
                      THEN 1 ELSE signin_attempts.failures + 1 END,
      window_start = CASE WHEN signin_attempts.window_start <= :expired
                          THEN :now ELSE signin_attempts.window_start END
    """
)


def windows(tx: Tx, keys: Sequence[str]) -> dict[str, tuple[int, int]]:
    """{key: (failures, window start in ms)} of the keys that have a row."""
    c = signin_attempts.c
    rows = tx.conn.execute(sa.select(c.key, c.failures, c.window_start).where(c.key.in_(keys)))
    return {key: (failures, start) for key, failures, start in rows}


def count_failure(tx: Tx, keys: Sequence[str], now_ms: int, expired_ms: int) -> None:
    """One more failure on each key; a window started at or before `expired_ms` starts over
    at `now_ms`. Rows of windows that have passed go."""
    for key in keys:
        tx.conn.execute(_COUNT_FAILURE, {"key": key, "now": now_ms, "expired": expired_ms})
    tx.conn.execute(signin_attempts.delete().where(signin_attempts.c.window_start <= expired_ms))


def clear(tx: Tx, key: str) -> None:
    tx.conn.execute(signin_attempts.delete().where(signin_attempts.c.key == key))
