"""Which stored keys are secret, and how documents are shown to callers below admin.

- `SECRET_USER_KEYS`: password material of user documents (`@name`). Never returned to
  anyone (`api.auth.public_doc`), never searchable, sortable or comparable.
- `SECRET_CONFIG_KEYS`: keys of configuration objects (`rsyncGlobalParameters`, `hub/...`,
  `volume/...`) that carry credentials or say where they are: `rsync_env` (where an
  `RSYNC_PASSWORD` sits), `identityFile`, `knownHosts`, `notifiedEmails`, the SMTP account.
  Admins read them; every other class reads `"***"` instead (architecture.md#tracker-api security,
  issue 11). Any other configuration key whose name mentions a password or a secret counts as well.
- The user part of an ssh URL (`ssh://sync@nas/`) is shown as `ssh://***@nas/`, in `url` and
  in the ssh/rsync messages the reconciler keeps (`stderr_<phase>`: `sync@nas: Permission
  denied`).

The key lists and tests live in `reconciler.core.secret_keys` (the query compiler in the
store screens keys with them too). Pure functions: a document in, the document as the
caller may see it out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.core.domain import CONFIG_GLOBAL_ID, HUB_PREFIX, VOLUME_PREFIX
from reconciler.core.secret_keys import (
    SECRET_CONFIG_KEYS,
    SECRET_USER_KEYS,
    is_redacted_key,
    is_secret_config_key,
)

__all__ = [
    "REDACTED",
    "SECRET_CONFIG_KEYS",
    "SECRET_USER_KEYS",
    "has_config_secrets",
    "is_redacted_key",
    "is_secret_config_key",
    "redact_config",
    "redact_text",
    "redact_url",
]

REDACTED = "***"
# Configuration objects that may hold secrets (sync targets hold paths and site names only).
SECRET_CONFIG_PREFIXES = (HUB_PREFIX, VOLUME_PREFIX)
_URL_USER = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@]*)@")
_TEXT_USER = re.compile(r"[^\s@/'\"`=:]+@(?=[^\s@])")


def has_config_secrets(node_id: object) -> bool:
    """True for the objects whose keys `redact_config` may hide (by `_id` alone: cheap)."""
    return isinstance(node_id, str) and (
        node_id == CONFIG_GLOBAL_ID or node_id.startswith(SECRET_CONFIG_PREFIXES)
    )


def redact_url(value: Any) -> Any:
    """`ssh://user@host/p` -> `ssh://***@host/p`; other values unchanged."""
    if not isinstance(value, str):
        return value
    return _URL_USER.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", value, count=1)


def redact_text(value: Any) -> Any:
    """Every `user@` of a message (ssh's `sync@nas: Permission denied`) as `***@`."""
    if not isinstance(value, str):
        return value
    return _TEXT_USER.sub(f"{REDACTED}@", value)


def _redacted(key: str, value: Any) -> Any:
    if key == "url":
        return redact_url(value)
    if key.startswith("stderr_"):
        return redact_text(value)
    if is_secret_config_key(key) and value not in (None, ""):
        return REDACTED  # unset stays unset: the caller learns nothing but "none configured"
    return value


def redact_config(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration object as a non-admin sees it (other documents are returned as is)."""
    if not has_config_secrets(doc.get("_id")):
        return dict(doc)
    return {k: _redacted(k, v) for k, v in doc.items()}
