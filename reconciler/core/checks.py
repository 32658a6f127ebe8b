"""The per-key checks of the configuration kinds: one value in, a kubectl-style reason out.

Purely computational. Each check takes the value as written in a manifest and returns None
when it is acceptable, else the reason (`Invalid value: "x": must be an integer`); the
models of `reconciler.core.kinds` attach them to their keys. A list check returns
`[index]\x00reason`, which `reconciler.core.manifest_schema` turns into a field path
(`spec.paths[1]`). The checks test the type themselves (a manifest is strict: `"100"` is not
an integer, `1` is not a boolean) so the messages stay the ones the docs show.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from typing import Any

import argon2

from reconciler.core.domain import SITE_NAME_RE
from reconciler.core.patterns import compile_glob
from reconciler.core.rsync_options import screen
from reconciler.core.urls import InvalidUrl, UnsafeUrl, parse_url

USER_CLASSES = ("guest", "user", "editor", "admin")
SUB = "\x00"  # separates a list index from the reason of one entry
MAX_STREAMS = 8  # below sshd's default MaxSessions (10) on one shared connection


def show(value: Any) -> str:
    return json.dumps(value, default=str)


Check = Callable[[Any], str | None]


def is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"Invalid value: {show(value)}: must be a boolean"


def integer(minimum: int | None) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"Invalid value: {show(value)}: must be an integer"
        if minimum is not None and value < minimum:
            return f"Invalid value: {value}: must be at least {minimum}"
        return None

    return check


def percent(minimum: int) -> Check:
    def check(value: Any) -> str | None:
        problem = integer(minimum)(value)
        if problem is None and value > 100:
            return f"Invalid value: {value}: must be at most 100"
        return problem

    return check


def streams(minimum: int) -> Check:
    """`parallelStreams`: 1 to MAX_STREAMS (a volume's -1 is the global value)."""

    def check(value: Any) -> str | None:
        problem = integer(minimum)(value)
        if problem is None and value > MAX_STREAMS:
            return f"Invalid value: {value}: must be at most {MAX_STREAMS}"
        if problem is None and value == 0:
            return "Invalid value: 0: must be at least 1 (or -1: the global value)"
        return problem

    return check


def is_str(value: Any) -> str | None:
    return None if isinstance(value, str) else f"Invalid value: {show(value)}: must be a string"


def url(value: Any) -> str | None:
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


def rsync_args(value: Any) -> str | None:
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


def rsync_env(value: Any) -> str | None:
    problem = _env_text(value)
    if problem:
        return problem
    for item in shlex.split(value):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", item, re.DOTALL):
            return f"Invalid value: {show(value)}: expected NAME=value items, got {show(item)}"
    return None


_EMAIL_RE = re.compile(r"[^@\s,]+@[^@\s,]+")


def emails(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"Invalid value: {show(value)}: must be a string of comma-separated addresses"
    for item in (p.strip() for p in value.split(",")):
        if item and not _EMAIL_RE.fullmatch(item):
            return f"Invalid value: {show(item)}: not an e-mail address"
    return None


def email(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"Invalid value: {show(value)}: must be a string"
    if value and not _EMAIL_RE.fullmatch(value):
        return f"Invalid value: {show(value)}: not an e-mail address"
    return None


def list_of(item: Check, *, required: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return f"Invalid value: {show(value)}: must be a list"
        if required and not value:
            return "Required value: at least one entry"
        for index, entry in enumerate(value):
            problem = item(entry)
            if problem:
                return f"[{index}]{SUB}{problem}"  # _path moves `[index]` into the field path
        return None

    return check


def glob(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"Invalid value: {show(value)}: must be a non-empty glob pattern"
    try:
        compile_glob(value)
    except (ValueError, re.error) as exc:
        return f"Invalid value: {show(value)}: {exc}"
    return None


def site(value: Any) -> str | None:
    if not isinstance(value, str) or not SITE_NAME_RE.match(value):
        return f"Invalid value: {show(value)}: a site name must match {SITE_NAME_RE.pattern}"
    return None


def user_class(value: Any) -> str | None:
    if value in USER_CLASSES:
        return None
    supported = ", ".join(f'"{c}"' for c in USER_CLASSES)
    return f"Unsupported value: {show(value)}: supported values: {supported}"


def password_hash(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"Invalid value: {show(value)}: must be a string"
    if re.fullmatch(r"[0-9a-f]{32}|[0-9a-f]{40}", value):
        return None  # legacy md5 / sha1 hex, upgraded to argon2id at the next sign-in
    try:
        ok = argon2.extract_parameters(value).type is argon2.Type.ID
    except argon2.exceptions.InvalidHashError:
        ok = False
    return None if ok else "Invalid value: must be an argon2id hash or a legacy md5/sha1 hex digest"


def env_name(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        return None
    return f"Invalid value: {show(value)}: must be an environment variable name"


def optional_env_name(value: Any) -> str | None:
    """An environment variable name, or empty (none)."""
    return None if value == "" else env_name(value)
