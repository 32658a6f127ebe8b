"""Server settings: environment variables, overridden by `spctl serve` flags
(architecture.md#tracker-api)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

from reconciler.store.engine import data_home, default_db_url
from reconciler.store.private_files import create_private, private_dir


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _persistent_secret() -> str:
    """SPCTL_SECRET, else a random secret kept in the data directory (tokens survive restarts)."""
    path = data_home() / "jwt-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        # Created with its final mode (never written, then chmod-ed); a racing process
        # that created it first wins, and both read its secret.
        create_private(private_dir(path.parent) / path.name, secrets.token_urlsafe(48))
        return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    db_url: str = field(default_factory=default_db_url)
    secret: str = ""
    author_mode: bool = False
    create_returns_obj: bool = False
    admin_password: str | None = None
    max_body: int = 50 * 1024 * 1024
    max_doc: int = 1024 * 1024  # bytes of JSON of one stored document (issue 11)
    query_timeout: float = 5.0  # seconds per database statement of an API request (0 = none)
    metrics_token: str | None = None
    token_lifetime: str = "1d"
    cookie_secure: bool = False  # session cookie Secure even over plain HTTP (TLS proxy)
    # signIn brute-force limit: failures per account / per client address per window (s)
    signin_max_failures: int = 5
    signin_max_failures_per_address: int = 20
    signin_window: float = 900.0

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "db_url": default_db_url(),
            "secret": os.environ.get("SPCTL_SECRET") or "",
            "author_mode": _flag("SPCTL_AUTHOR_MODE"),
            "create_returns_obj": _flag("SPCTL_CREATE_RETURNS_OBJ"),
            "admin_password": os.environ.get("SPCTL_ADMIN_PASSWORD") or None,
            "max_body": int(os.environ.get("SPCTL_MAX_BODY") or 50 * 1024 * 1024),
            "max_doc": int(os.environ.get("SPCTL_MAX_DOC") or 1024 * 1024),
            "query_timeout": float(os.environ.get("SPCTL_QUERY_TIMEOUT") or 5.0),
            "metrics_token": os.environ.get("SPCTL_METRICS_TOKEN") or None,
            "cookie_secure": _flag("SPCTL_COOKIE_SECURE"),
            "signin_max_failures": int(os.environ.get("SPCTL_SIGNIN_MAX_FAILURES") or 5),
            "signin_max_failures_per_address": int(
                os.environ.get("SPCTL_SIGNIN_MAX_FAILURES_PER_ADDRESS") or 20
            ),
            "signin_window": float(os.environ.get("SPCTL_SIGNIN_WINDOW") or 900),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if not values["secret"]:
            values["secret"] = _persistent_secret()
        return cls(**values)  # type: ignore[arg-type]
