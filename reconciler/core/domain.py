"""Domain vocabulary: file ids, per-site key names, site states and directions.

Everything here is pure: the rules of architecture.md#file-keys about what an `_id` may be and how
the per-site keys (`synced_<site>`, `syncError_<site>`...) are named live in this one module.
"""

from __future__ import annotations

import re
from enum import StrEnum

CONFIG_GLOBAL_ID = "rsyncGlobalParameters"
HUB_PREFIX = "hub/"
VOLUME_PREFIX = "volume/"
SYNCTARGET_PREFIX = "synctarget/"
USER_PREFIX = "@"

SITE_NAME_RE = re.compile(r"^[a-z0-9_]{2,32}$")
USER_NAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
SYNCTARGET_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

# Reconciler bookkeeping folder on every volume and on the hub; never scanned or synced.
RESERVED_DIR = ".syncplanet"


class InvalidId(ValueError):
    """An `_id` that breaks the path rules of architecture.md#file-keys,
    architecture.md#tracker-api."""


class Direction(StrEnum):
    EMISSION = "emission"  # volume -> hub
    RECEPTION = "reception"  # hub -> volume


class SiteState(StrEnum):
    SYNCED = "synced"
    OUTDATED = "outdated"
    MISSING = "missing"
    SYNCING = "syncing"
    ERROR = "error"


class NodeKind(StrEnum):
    FILE = "file"
    USER = "user"
    CONFIG = "config"
    NODE = "node"


def node_kind(node_id: str) -> NodeKind:
    if node_id.startswith("/"):
        return NodeKind.FILE
    if node_id.startswith(USER_PREFIX):
        return NodeKind.USER
    if node_id == CONFIG_GLOBAL_ID or node_id.startswith(
        (HUB_PREFIX, VOLUME_PREFIX, SYNCTARGET_PREFIX)
    ):
        return NodeKind.CONFIG
    return NodeKind.NODE


def check_file_id(node_id: str) -> str:
    """Validate a file path `_id`; return it unchanged or raise InvalidId.

    A file id starts with `/`, has no empty, `.` or `..` component and no NUL. A trailing
    `/` marks a package and is allowed (it is the only allowed empty component).
    """
    if not node_id.startswith("/"):
        raise InvalidId(f"file _id must start with '/': {node_id!r}")
    if "\x00" in node_id:
        raise InvalidId("file _id must not contain NUL")
    if node_id == "/":
        raise InvalidId("file _id must name a file or a folder below the root, not '/'")
    body = node_id[1:-1] if node_id.endswith("/") else node_id[1:]
    for part in body.split("/"):
        if part == "":
            raise InvalidId(f"file _id has an empty component ('//'): {node_id!r}")
        if part in (".", ".."):
            raise InvalidId(f"file _id has a '{part}' component: {node_id!r}")
    if body.split("/")[0] == RESERVED_DIR:
        raise InvalidId(f"file _id must not be under /{RESERVED_DIR}/: {node_id!r}")
    return node_id


def is_package(file_id: str) -> bool:
    return file_id.endswith("/")


def relpath(file_id: str) -> str:
    """Path relative to a volume root, as rsync's --files-from wants it (no leading '/')."""
    return file_id.lstrip("/")


# ---- per-site keys (architecture.md#file-keys)
# -------------------------------------------------------------


def sync_key(site: str) -> str:
    return f"sync_{site}"


def synced_key(site: str) -> str:
    return f"synced_{site}"


def syncing_key(site: str) -> str:
    return f"syncing_{site}"


def error_key(site: str) -> str:
    return f"syncError_{site}"


def last_attempt_key(site: str) -> str:
    return f"syncLastAttempt_{site}"


def attempts_key(site: str) -> str:
    """Failed attempts since the last success; drives exponential backoff (our extension)."""
    return f"syncAttempts_{site}"


def modified_key(site: str) -> str:
    return f"modified_{site}"


# Status keys of `volume/<name>`: bytes received and seconds rsync spent moving them, summed
# over the receptions that moved data (the measured throughput `spctl diff --impact` uses).
RECEIVED_BYTES_KEY = "bytes_reception"
RECEPTION_SECONDS_KEY = "seconds_reception"


SITE_KEY_PREFIXES = (
    "synced_",
    "syncing_",
    "syncError_",
    "syncLastAttempt_",
    "syncAttempts_",
)


def as_number(value: object) -> float | None:
    """A JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):  # a tuple: no union built
        return None
    return value


# rsync/ssh exit codes that mean "the volume could not be reached", not "this file failed":
# 255 ssh, 5 protocol start, 10 socket I/O, 12 protocol stream, 30/35 timeouts.
UNREACHABLE_EXIT_CODES = frozenset({255, 5, 10, 12, 30, 35})


def is_unreachable(exit_code: int) -> bool:
    return exit_code in UNREACHABLE_EXIT_CODES
