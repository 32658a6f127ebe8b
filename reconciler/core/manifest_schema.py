"""What each manifest kind may hold: its keys, their types, its tracker id and defaults.

Purely computational. `check_spec(kind, spec)` returns the problems of one `spec` as
(field path, kubectl-style reason) pairs; the defaults themselves live in
`reconciler.core.config` (the one place) and the types are read from them, so a key added to a
defaults table is accepted, typed and shown by `get -o yaml` without touching this module.
"""

from __future__ import annotations

import difflib
import json
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import argon2

from reconciler.core.config import (
    GLOBAL_DEFAULTS,
    HUB_DEFAULTS,
    SYNCTARGET_DEFAULTS,
    USER_DEFAULTS,
    VOLUME_DEFAULTS,
)
from reconciler.core.domain import (
    CONFIG_GLOBAL_ID,
    HUB_PREFIX,
    SITE_NAME_RE,
    SYNCTARGET_NAME_RE,
    SYNCTARGET_PREFIX,
    USER_NAME_RE,
    USER_PREFIX,
    VOLUME_PREFIX,
)
from reconciler.core.patterns import compile_glob
from reconciler.core.rsync_options import screen
from reconciler.core.streams import MAX_STREAMS
from reconciler.core.urls import InvalidUrl, UnsafeUrl, parse_url

API_VERSION = "syncplanet.io/v1"
USER_CLASSES = ("guest", "user", "editor", "admin")
# Password material a User manifest may carry; never stored as such, never shown.
PASSWORD_KEYS = ("passwordHash", "passwordFromEnv")


class Kind(StrEnum):
    GLOBAL = "GlobalParameters"
    HUB = "Hub"
    VOLUME = "Volume"
    USER = "User"
    SYNCTARGET = "SyncTarget"


@dataclass(frozen=True)
class KindInfo:
    kind: Kind
    word: str  # lower-case singular, as printed: `volume/paris`
    plural: str
    prefix: str  # tracker id = prefix + name (GlobalParameters: the fixed id)
    defaults: Mapping[str, Any]
    name_re: re.Pattern[str]

    def doc_id(self, name: str) -> str:
        return CONFIG_GLOBAL_ID if self.kind is Kind.GLOBAL else self.prefix + name

    def ref(self, name: str) -> str:
        return f"{self.word}/{name}"


KINDS: dict[Kind, KindInfo] = {
    info.kind: info
    for info in (
        KindInfo(Kind.GLOBAL, "globalparameters", "globalparameters", CONFIG_GLOBAL_ID,
                 GLOBAL_DEFAULTS, re.compile(f"^{CONFIG_GLOBAL_ID}$")),
        KindInfo(Kind.HUB, "hub", "hubs", HUB_PREFIX, HUB_DEFAULTS, SITE_NAME_RE),
        KindInfo(Kind.VOLUME, "volume", "volumes", VOLUME_PREFIX, VOLUME_DEFAULTS, SITE_NAME_RE),
        KindInfo(Kind.USER, "user", "users", USER_PREFIX, USER_DEFAULTS, USER_NAME_RE),
        KindInfo(Kind.SYNCTARGET, "synctarget", "synctargets", SYNCTARGET_PREFIX,
                 SYNCTARGET_DEFAULTS, SYNCTARGET_NAME_RE),
    )
}  # fmt: skip


def kind_of_id(doc_id: str) -> tuple[KindInfo, str] | None:
    """The kind and name of a tracker id, or None for files and plain nodes."""
    if doc_id == CONFIG_GLOBAL_ID:
        return KINDS[Kind.GLOBAL], CONFIG_GLOBAL_ID
    for info in KINDS.values():
        if info.kind is not Kind.GLOBAL and doc_id.startswith(info.prefix):
            return info, doc_id[len(info.prefix) :]
    return None


def lookup_kind(word: str) -> KindInfo | None:
    """`volume`, `volumes`, `Volume`: what `get` and `delete` accept."""
    low = word.lower()
    for info in KINDS.values():
        if low in (info.word, info.plural, info.kind.value.lower()):
            return info
    return None


def show(value: Any) -> str:
    return json.dumps(value, default=str)


Problem = tuple[str, str]  # (field path, reason)
_SUB = "\x00"  # separates a list index from the reason of one entry
Check = Callable[[Any], str | None]


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"Invalid value: {show(value)}: must be a boolean"


def _int(minimum: int | None) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"Invalid value: {show(value)}: must be an integer"
        if minimum is not None and value < minimum:
            return f"Invalid value: {value}: must be at least {minimum}"
        return None

    return check


def _percent(minimum: int) -> Check:
    def check(value: Any) -> str | None:
        problem = _int(minimum)(value)
        if problem is None and value > 100:
            return f"Invalid value: {value}: must be at most 100"
        return problem

    return check


def _streams(minimum: int) -> Check:
    """`parallelStreams`: 1 to MAX_STREAMS (a volume's -1 is the global value)."""

    def check(value: Any) -> str | None:
        problem = _int(minimum)(value)
        if problem is None and value > MAX_STREAMS:
            return f"Invalid value: {value}: must be at most {MAX_STREAMS}"
        if problem is None and value == 0:
            return "Invalid value: 0: must be at least 1 (or -1: the global value)"
        return problem

    return check


def _str(value: Any) -> str | None:
    return None if isinstance(value, str) else f"Invalid value: {show(value)}: must be a string"


def _url(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"Invalid value: {show(value)}: must be a string"
    if "\x00" in value or "\n" in value:
        return f"Invalid value: {show(value)}: must not contain NUL or newlines"
    try:
        parse_url(value)
    except UnsafeUrl as exc:
        return f"Invalid value: {show(value)}: {exc}"
    except InvalidUrl:
        return (
            f"Invalid value: {show(value)}: use ssh://[user@]host[:port]/absolute/path/, "
            "file:///absolute/path/ or /absolute/path/"
        )
    return None


def _args(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"Invalid value: {show(value)}: must be a string"
    try:
        tokens = shlex.split(value)
    except ValueError as exc:
        return f"Invalid value: {show(value)}: {exc}"
    refused = screen(tokens).refused
    return f"Forbidden: {refused[0].describe()}" if refused else None


def _env_text(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"Invalid value: {show(value)}: must be a string"
    try:
        shlex.split(value)
    except ValueError as exc:
        return f"Invalid value: {show(value)}: {exc}"
    return None


def _env(value: Any) -> str | None:
    problem = _env_text(value)
    if problem:
        return problem
    for item in shlex.split(value):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", item, re.DOTALL):
            return f"Invalid value: {show(value)}: expected NAME=value items, got {show(item)}"
    return None


_EMAIL_RE = re.compile(r"[^@\s,]+@[^@\s,]+")


def _emails(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"Invalid value: {show(value)}: must be a string of comma-separated addresses"
    for item in (p.strip() for p in value.split(",")):
        if item and not _EMAIL_RE.fullmatch(item):
            return f"Invalid value: {show(item)}: not an e-mail address"
    return None


def _email(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"Invalid value: {show(value)}: must be a string"
    if value and not _EMAIL_RE.fullmatch(value):
        return f"Invalid value: {show(value)}: not an e-mail address"
    return None


def _list(item: Check, *, required: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return f"Invalid value: {show(value)}: must be a list"
        if required and not value:
            return "Required value: at least one entry"
        for index, entry in enumerate(value):
            problem = item(entry)
            if problem:
                return f"[{index}]{_SUB}{problem}"  # _path moves `[index]` into the field path
        return None

    return check


def _glob(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"Invalid value: {show(value)}: must be a non-empty glob pattern"
    try:
        compile_glob(value)
    except (ValueError, re.error) as exc:
        return f"Invalid value: {show(value)}: {exc}"
    return None


def _site(value: Any) -> str | None:
    if not isinstance(value, str) or not SITE_NAME_RE.match(value):
        return f"Invalid value: {show(value)}: a site name must match {SITE_NAME_RE.pattern}"
    return None


def _class(value: Any) -> str | None:
    if value in USER_CLASSES:
        return None
    supported = ", ".join(f'"{c}"' for c in USER_CLASSES)
    return f"Unsupported value: {show(value)}: supported values: {supported}"


def _password_hash(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"Invalid value: {show(value)}: must be a string"
    if re.fullmatch(r"[0-9a-f]{32}|[0-9a-f]{40}", value):
        return None  # legacy md5 / sha1 hex, upgraded to argon2id at the next sign-in
    try:
        ok = argon2.extract_parameters(value).type is argon2.Type.ID
    except argon2.exceptions.InvalidHashError:
        ok = False
    return None if ok else "Invalid value: must be an argon2id hash or a legacy md5/sha1 hex digest"


def _env_name(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        return None
    return f"Invalid value: {show(value)}: must be an environment variable name"


def _typed(default: Any) -> Check:
    """The check of a key whose only rule is the type of its default."""
    if isinstance(default, bool):
        return _bool
    if isinstance(default, int):
        return _int(0)
    return _str


# Keys with a rule stricter than the type of their default.
_RULES: dict[Kind, dict[str, Check]] = {
    Kind.GLOBAL: {
        "sleepBetweenScans": _int(1),
        "retryBackoffBase": _int(1),
        "retryBackoffMax": _int(1),
        "leaseSeconds": _int(1),
        "heartbeatSeconds": _int(1),
        "parallelStreams": _streams(1),
        "smtpPort": _int(1),
        "maxDeletionsPercent": _percent(0),
        "rsync_args": _args,
        "rsync_env": _env,
        "smtpPasswordFromEnv": lambda v: None if v == "" else _env_name(v),
    },
    Kind.HUB: {"url": _url, "rsync_args": _args, "rsync_env": _env},
    Kind.VOLUME: {
        "url": _url,
        "syncAmountEmission": _int(1),
        "syncAmountReception": _int(1),
        "syncBytesEmission": _int(1),
        "syncBytesReception": _int(1),
        "parallelStreams": _streams(-1),
        "rsync_args": _args,
        "rsync_env": _env,
        "notifiedEmails": _emails,
        "maxDeletionsPerScan": _int(-1),  # -1: the global value
        "maxDeletionsPercent": _percent(-1),
    },
    Kind.USER: {
        "class": _class,
        "email": _email,
        "fullname": _str,
        "passwordHash": _password_hash,
        "passwordFromEnv": _env_name,
    },
    Kind.SYNCTARGET: {
        "paths": _list(_glob, required=True),
        "exclude": _list(_glob),
        "sites": _list(_site),
        "everywhere": _bool,
        "excludeSites": _list(_site),
        "priority": _int(None),
    },
}


def spec_keys(kind: Kind) -> list[str]:
    """The keys a spec may hold, in the order `get -o yaml` prints them."""
    keys = list(KINDS[kind].defaults)
    return [*keys, *PASSWORD_KEYS] if kind is Kind.USER else keys


def _check_of(kind: Kind, key: str) -> Check:
    return _RULES[kind].get(key) or _typed(KINDS[kind].defaults[key])


def _path(key: str, reason: str) -> Problem:
    index, sep, rest = reason.partition(_SUB)
    return (f"spec.{key}{index}", rest) if sep else (f"spec.{key}", reason)


def check_spec(kind: Kind, spec: Mapping[str, Any]) -> list[Problem]:
    """Problems of one manifest's `spec` (unknown keys, types, values, required keys)."""
    problems: list[Problem] = []
    allowed = spec_keys(kind)
    for key, value in spec.items():
        if key == "password" and kind is Kind.USER:
            problems.append(
                (
                    "spec.password",
                    "Forbidden: plaintext passwords are refused; "
                    "use passwordHash or passwordFromEnv",
                )
            )
        elif key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            problems.append(
                (f"spec.{key}", "Unknown field" + (f' (did you mean "{hint[0]}"?)' if hint else ""))
            )
        elif value is None:
            continue  # `key: null` means "the default", as in the tracker
        else:
            reason = _check_of(kind, key)(value)
            if reason:
                problems.append(_path(key, reason))
    for key, default in KINDS[kind].defaults.items():
        if default is None and spec.get(key) is None:
            problems.append((f"spec.{key}", "Required value"))
    if kind is Kind.USER and all(spec.get(k) is not None for k in PASSWORD_KEYS):
        problems.append(
            (
                "spec.passwordFromEnv",
                "Forbidden: give either passwordHash or passwordFromEnv, not both",
            )
        )
    if kind is Kind.SYNCTARGET and spec.get("everywhere") is True and spec.get("sites"):
        problems.append(("spec.sites", "Forbidden: sites and everywhere: true are exclusive"))
    return problems
