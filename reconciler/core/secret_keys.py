"""Which document keys are secret or redacted: the pure policy the API and the query
compiler share (the compiler, in `reconciler.store.query`, refuses to search on them).

- `SECRET_USER_KEYS`: password material of user documents (`@name`).
- `SECRET_CONFIG_KEYS`: keys of configuration objects that carry credentials or say where
  they are (flagged `secret` in the kinds' models); any other key whose name mentions a
  password, a secret or a token counts too.
- Redacted keys (`is_redacted_key`): what callers below admin read (partly) as `***`: the
  secret keys, `url` and `stderr_*`. A query on them by such a caller would leak what the
  reply hides. `api.secrets` does the redacting itself.

Kept here, in the pure core, so that the store compiles queries without importing the API.
"""

from __future__ import annotations

import re

from reconciler.core.kinds import KINDS, Kind

SECRET_USER_KEYS = frozenset({"password", "passwordHash"})
# The keys the kinds' models flag `secret` (`reconciler.core.kinds`), and `smtpPassword`
# (no key of any model: a password some older document may hold).
SECRET_CONFIG_KEYS = frozenset(
    {
        "smtpPassword",
        *(k for info in KINDS.values() if info.kind is not Kind.USER for k in info.secret),
    }
)
# One set for every guard on query keys (any key naming a password, secret or token as well).
SECRET_QUERY_KEYS = SECRET_USER_KEYS | SECRET_CONFIG_KEYS
_SECRET_NAME = re.compile(r"passw|secret|token", re.IGNORECASE)


def is_secret_config_key(key: str) -> bool:
    return key in SECRET_CONFIG_KEYS or bool(_SECRET_NAME.search(key))


def is_redacted_key(key: str) -> bool:
    """Keys whose values callers below admin read (partly) as `***`: the secret keys, `url`
    and `stderr_*`. A query on them by such a caller would leak what the reply hides."""
    return is_secret_config_key(key) or key == "url" or key.startswith("stderr_")


def is_secret_key(key: str) -> bool:
    """True when any component of the dotted `key` is secret (no class may query it)."""
    return any(part in SECRET_QUERY_KEYS or is_secret_config_key(part) for part in key.split("."))
