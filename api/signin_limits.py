"""The brute-force limit of signIn: failed sign-ins per account and per client address.

Each key (`account:<user _id or login>`, `address:<client address>`) has one row in the
store's `signin_attempts` table: the failures counted since its window started. Once a key
holds `max` failures and its window is still open, signIn answers 429 with `Retry-After`
(the seconds until the window closes) without checking the password; when the window has
passed, the next failure starts a new one and the right password is accepted again. A
successful sign-in clears its account's count (not the address's: one valid account must
not let an address reset its count between guesses).

The counts live in the store (`reconciler.store.signin_attempts`), so every API process
sharing it enforces the same limit. The check reads; a failure is counted in one atomic
upsert (its own short transaction); the clock is a parameter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.store import Tx
from reconciler.store import signin_attempts as attempts


@dataclass(frozen=True)
class Limit:
    key: str
    max_failures: int


@dataclass(frozen=True)
class SigninLimits:
    """`max_per_account` / `max_per_address` failures per `window` seconds (0 = no limit)."""

    max_per_account: int = 5
    max_per_address: int = 20
    window: float = 900.0

    def limits(self, account: str, address: str | None) -> list[Limit]:
        out = [Limit(f"account:{account}", self.max_per_account)]
        if address:
            out.append(Limit(f"address:{address}", self.max_per_address))
        return [lim for lim in out if lim.max_failures > 0]

    def retry_after(self, tx: Tx, limits: Sequence[Limit], now: float) -> int:
        """Seconds until every exhausted key's window closes; 0 when sign-in may proceed."""
        if not limits:
            return 0
        found = attempts.windows(tx, [lim.key for lim in limits])
        wait = 0.0
        for lim in limits:
            failures, start = found.get(lim.key, (0, 0))
            closes = start / 1000 + self.window
            if failures >= lim.max_failures and now < closes:
                wait = max(wait, closes - now)
        return math.ceil(wait)

    def count_failure(self, tx: Tx, limits: Sequence[Limit], now: float) -> None:
        """One more failure on each key; windows that have passed start over. Old rows go."""
        now_ms = int(now * 1000)
        expired_ms = now_ms - int(self.window * 1000)
        attempts.count_failure(tx, [lim.key for lim in limits], now_ms, expired_ms)

    def clear_account(self, tx: Tx, account: str) -> None:
        attempts.clear(tx, f"account:{account}")
