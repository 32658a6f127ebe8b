"""Schemathesis hooks of the fuzz run (`SCHEMATHESIS_HOOKS=tests.api.fuzz_hooks`).

The run signs in as `admin`; a request that names that account (as an id, or as a manifest
or object name) could disable, demote, re-password or delete it, and the rest of the run
would only see 401s. Such requests are not sent; every other one is.
"""

from __future__ import annotations

from typing import Any

import schemathesis

ADMIN = frozenset({"admin", "@admin"})


def names_admin(value: Any) -> bool:
    if isinstance(value, str):
        return value in ADMIN or any(part in ADMIN for part in value.split(","))
    if isinstance(value, dict):
        return any(names_admin(k) or names_admin(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(names_admin(v) for v in value)
    return False


@schemathesis.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case[Any]) -> bool:
    return not (names_admin(case.body) or names_admin(case.path_parameters or {}))
