"""Schemathesis hooks of the fuzz run (`SCHEMATHESIS_HOOKS=tests.api.fuzz_hooks`).

- The run signs in as `admin`; a request that names that account (as an id, or as a manifest
  or object name) could disable, demote, re-password or delete it, and the rest of the run
  would only see 401s. Such requests are not sent; every other one is.
- Generated ids and names almost never exist, so most calls would stop at 404. The test
  stores `SEED` first (a hub, two volumes, published files); half the generated path
  parameters, id bodies and documents are pointed at those, so the routes that read or
  change existing files (describe, explain, queues, lock, version, update) run their code
  on documents the fuzzer keeps rewriting.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st

ADMIN = frozenset({"admin", "@admin"})
SITES = ("hub", "paris", "tokyo")
FILES = ("/shots/a.exr", "/shots/b.exr", "/assets/c/")
SEED: list[tuple[str, Any]] = [
    (
        "/api/create/",
        [
            {"_id": "hub/hub", "name": "hub", "url": "/srv/fuzz/hub/"},
            {"_id": "volume/paris", "name": "paris", "url": "/srv/fuzz/paris/"},
            {"_id": "volume/tokyo", "name": "tokyo", "url": "/srv/fuzz/tokyo/"},
        ],
    ),
    (
        "/api/publish/",
        [{"_id": f, "origin": "paris", "comment": "seed", "file_size": 10} for f in FILES],
    ),
]
_FILE = st.sampled_from(FILES)
_PATH_VALUES: dict[str, st.SearchStrategy[str]] = {
    "path": st.sampled_from([f[1:] for f in FILES]),
    "ids": st.sampled_from([*FILES, ",".join(FILES)]),
    "node_id": _FILE,
    "src": st.sampled_from(SITES),
    "tgt": st.sampled_from(SITES),
    "n": st.sampled_from(["1", "10"]),
    "kind": st.sampled_from(["hub", "volumes", "synctargets", "globalparameters"]),
    "name": st.sampled_from(SITES),
}


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


@schemathesis.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    known = {k: _PATH_VALUES[k] for k in path_parameters or {} if k in _PATH_VALUES}
    if path_parameters is None or not known:
        return st.just(path_parameters)
    seeded = st.fixed_dictionaries(known).map(lambda values: {**path_parameters, **values})
    return st.one_of(st.just(path_parameters), seeded)


def _with_seeded_ids(body: Any) -> st.SearchStrategy[Any]:
    if isinstance(body, str):
        return _FILE
    if isinstance(body, list) and body and all(isinstance(i, str) for i in body):
        return st.lists(_FILE, min_size=1, max_size=3)
    if isinstance(body, dict) and "_id" in body:
        return _FILE.map(lambda file_id: {**body, "_id": file_id})
    if isinstance(body, dict) and "#parent" in body:
        return _FILE.map(lambda file_id: {**body, "#parent": file_id})
    return st.just(body)


@schemathesis.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(body), _with_seeded_ids(body))
