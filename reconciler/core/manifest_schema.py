"""Validation of one manifest's `spec` against its kind's model, kubectl-style.

Purely computational. `check_spec(kind, spec)` validates `spec` with the pydantic model
of the kind (`reconciler.core.kinds`, where every key, type, default and check is written)
and turns the errors into (field path, reason) pairs in the order the keys are written:
`("spec.paths[1]", 'Invalid value: "": must be a non-empty glob pattern')`, then the
required keys left out, then the rules that tie two keys together.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from reconciler.core.checks import SUB, show
from reconciler.core.kinds import KINDS, Kind, KindInfo, kind_of_id, lookup_kind

__all__ = [
    "API_VERSION",
    "KINDS",
    "PASSWORD_KEYS",
    "Kind",
    "KindInfo",
    "Problem",
    "check_spec",
    "kind_of_id",
    "lookup_kind",
    "show",
    "spec_keys",
]

API_VERSION = "syncplanet.io/v1"
# Password material a User manifest may carry; never stored as such, never shown.
PASSWORD_KEYS = ("passwordHash", "passwordFromEnv")

Problem = tuple[str, str]  # (field path, reason)


def spec_keys(kind: Kind) -> list[str]:
    """The keys a spec may hold, in the order `get -o yaml` prints them."""
    return list(KINDS[kind].keys)


def _path(key: str, reason: str) -> Problem:
    index, sep, rest = reason.partition(SUB)
    return (f"spec.{key}{index}", rest) if sep else (f"spec.{key}", reason)


def _unknown(key: Any, allowed: list[str]) -> Problem:
    hint = difflib.get_close_matches(str(key), allowed, n=1)
    return f"spec.{key}", "Unknown field" + (f' (did you mean "{hint[0]}"?)' if hint else "")


def _reason(error: ErrorDetails) -> str:
    if error["type"] == "syncplanet":  # a check of reconciler.core.checks: its own words
        return str((error.get("ctx") or {})["reason"])
    if error["type"] == "missing":
        return "Required value"
    return f"Invalid value: {show(error['input'])}: {error['msg']}"


def _model_errors(info: KindInfo, spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(key, reason) of every error the kind's model finds in `spec` (`null` = unset)."""
    try:
        info.model.model_validate({k: v for k, v in spec.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors():
            yield str(error["loc"][0]), _reason(error)


def check_spec(kind: Kind, spec: Mapping[str, Any]) -> list[Problem]:
    """Problems of one manifest's `spec` (unknown keys, types, values, required keys)."""
    info = KINDS[kind]
    allowed = spec_keys(kind)
    problems: list[Problem] = []
    if kind is Kind.USER and "password" in spec:
        spec = {k: v for k, v in spec.items() if k != "password"}
        problems.append(
            (
                "spec.password",
                "Forbidden: plaintext passwords are refused; use passwordHash or passwordFromEnv",
            )
        )
    if not all(isinstance(k, str) for k in spec):
        problems += [_unknown(k, allowed) for k in spec if not isinstance(k, str)]
        spec = {k: v for k, v in spec.items() if isinstance(k, str)}
    reasons = dict(_model_errors(info, spec))
    for key in spec:
        if key not in allowed:
            problems.append(_unknown(key, allowed))
        elif key in reasons:
            problems.append(_path(key, reasons[key]))
    problems += [(f"spec.{k}", "Required value") for k in info.required if spec.get(k) is None]
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
