"""Passwords in one place: argon2id hashes, damas' legacy hex digests, generated passwords.

Pure computation (no I/O). The tracker's sign-in and password changes (`api.users`), the
first `admin` (`api.users.ensure_admin`), `spctl apply` of User manifests
(`reconciler.services.declarative`), dam operations run by spctl on a store and the demo's
generated users all use this module; prompting for a password is spctl's
(`spctl.passwords`).

Decisions:
- New hashes are argon2id with argon2-cffi's default cost; the hasher is injected so tests
  can use a cheap one.
- Verification also accepts damas-core's unsalted md5 (32 hex) and sha1 (40 hex) digests, so
  imported damas users can sign in; `needs_upgrade` tells the caller to re-hash them.
- A stored value that is neither is a wrong password, never an error.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

LEGACY_HEX = re.compile(r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F]{40}$")
_ARGON2 = re.compile(r"^\$argon2(id|i|d)\$")


def is_stored_hash(value: object) -> bool:
    """An argon2 hash or a legacy md5/sha1 hex digest: what may be stored as a password."""
    return isinstance(value, str) and bool(_ARGON2.match(value) or LEGACY_HEX.match(value))


def generate_password() -> str:
    """A random password (20 URL-safe characters) for users nobody chose one for."""
    return secrets.token_urlsafe(15)


class Passwords:
    """argon2id hashing; verification also accepts damas' unsalted md5 (32 hex) / sha1 (40)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    @property
    def dummy_hash(self) -> str:
        """A hash of a random password with the hasher's cost: sign-ins of unknown users
        are verified against it so that they take as long as those of known users."""
        if self._dummy is None:  # two threads may both compute it: harmless
            self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    def hash(self, plain: str) -> str:
        return self.hasher.hash(plain)

    def verify(self, stored: object, plain: str) -> bool:
        if not isinstance(stored, str) or not stored:
            return False
        if LEGACY_HEX.match(stored):
            algo = hashlib.md5 if len(stored) == 32 else hashlib.sha1
            digest = algo(plain.encode()).hexdigest()
            return hmac.compare_digest(digest, stored.lower())
        try:
            return self.hasher.verify(stored, plain)
        except (VerificationError, InvalidHashError):
            return False

    def needs_upgrade(self, stored: str) -> bool:
        """True for legacy hashes (always) and argon2 hashes made with other parameters."""
        if LEGACY_HEX.match(stored):
            return True
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True
