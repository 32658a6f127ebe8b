"""Tokens and user documents' password material: JWT HS256 (architecture.md#tracker-api security).

Pure functions. Hashing and checking passwords is `reconciler.core.passwords`. A user's
password hash lives in the `password` key of its `@name` document (damas-core's key, so
imported damas user nodes keep working); it is never returned (`public_doc`). Tokens are
signed with the server secret plus that hash, so a password change revokes every token of
that user.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

import jwt

from api.secrets import SECRET_USER_KEYS
from reconciler.core.domain import USER_PREFIX

PASSWORD_KEY = "password"
# Keys that hold password material on a user document; never returned, never searchable.
SECRET_KEYS = SECRET_USER_KEYS
_UNITS = {
    "ms": 0.001, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
    "y": 31557600, "yr": 31557600, "year": 31557600, "years": 31557600,
}  # fmt: skip
_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def is_user_id(node_id: object) -> bool:
    return isinstance(node_id, str) and node_id.startswith(USER_PREFIX)


def public_doc(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document as any route may return it: user documents lose their password material."""
    if is_user_id(doc.get("_id")):
        return {k: v for k, v in doc.items() if k not in SECRET_KEYS}
    return dict(doc)


def password_hash(doc: Mapping[str, Any]) -> str:
    value = doc.get(PASSWORD_KEY)
    return value if isinstance(value, str) else ""


# ---- token lifetimes ---------------------------------------------------------------------


class BadLifetime(ValueError):
    """An `expiresIn` value that is neither a number nor an `ms`-style duration."""


def lifetime_seconds(value: object) -> float | None:
    """`expiresIn` as seconds; None = no expiry ("0" or 0, damas-core's convention).

    Strings follow the `ms` package ("1d", "2h", "90m"; a bare number string is milliseconds);
    a JSON number is seconds, as in jsonwebtoken.
    """
    if isinstance(value, bool) or value is None:
        raise BadLifetime(f"Value : {value!r} is invalid expiration token")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if not match or match.group(2).lower() not in {*_UNITS, ""}:
            raise BadLifetime(f"Value : '{value}' is invalid expiration token")
        unit = match.group(2).lower()
        seconds = float(match.group(1)) * (_UNITS[unit] if unit else 0.001)
    else:
        raise BadLifetime(f"Value : {value!r} is invalid expiration token")
    if seconds == 0:
        return None
    if seconds < 0 or seconds > 100 * 31557600:
        raise BadLifetime(f"Value : {value!r} is invalid expiration token")
    return seconds


# ---- tokens ------------------------------------------------------------------------------


def signing_key(secret: str, user_doc: Mapping[str, Any]) -> str:
    return secret + password_hash(user_doc)


def issue_token(
    secret: str, user_doc: Mapping[str, Any], *, lifetime: float | None, now_s: float
) -> str:
    claims: dict[str, Any] = {
        "_id": user_doc["_id"],
        "username": user_doc.get("username") or str(user_doc["_id"])[len(USER_PREFIX) :],
        "iat": int(now_s),
    }
    if lifetime is not None:
        claims["exp"] = int(now_s + lifetime)
    return jwt.encode(claims, signing_key(secret, user_doc), algorithm="HS256")


def peek_user_id(token: str) -> str | None:
    """The `_id` claim of a token, unverified: only used to know which key verifies it."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(_b64decode(parts[1]))
    except (ValueError, binascii.Error):
        return None
    user_id = payload.get("_id") if isinstance(payload, dict) else None
    if not is_user_id(user_id) or not str(user_id).isprintable():
        return None  # a lone surrogate or NUL would fail the lookup with a 500 (issue 11)
    return user_id


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def token_valid(token: str, secret: str, user_doc: Mapping[str, Any], *, now_s: float) -> bool:
    """Signature (secret + the user's current hash), expiry, and the user still enabled.

    HS256 is checked here with `hmac` rather than PyJWT's decode: it is on the hot path of
    every request (a tenth of the cost), and the format is fixed (we issue the tokens).
    """
    if user_doc.get("disable") or not password_hash(user_doc):
        return False
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(_b64decode(parts[0]))
        claims = json.loads(_b64decode(parts[1]))
        signature = _b64decode(parts[2])
    except (ValueError, binascii.Error):
        return False
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        return False
    key = signing_key(secret, user_doc).encode()
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature) or not isinstance(claims, dict):
        return False
    exp = claims.get("exp")
    if exp is not None and (
        isinstance(exp, bool) or not isinstance(exp, int | float) or exp <= now_s
    ):
        return False
    return bool(claims.get("_id") == user_doc.get("_id"))
