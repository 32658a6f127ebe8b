"""Routes of the declarative configuration, used by `spctl --server` (admin only).

- `POST /api/declarative/apply` `{manifests, sources?, env?, dryRun?, prune?}` ->
  `{dryRun, results: [{object, action}]}`; one transaction, nothing written on any error.
- `POST /api/declarative/diff` `{manifests, sources?, env?, prune?, impact?}` ->
  `{results: [{object, action, diff}], warnings, impact?}` for the objects apply would
  change; `impact: true` adds what each site would receive or stop receiving
  (`reconciler.services.impact`), computed here on the server's store. An unset `passwordFromEnv`
  variable is a warning (the password compares as unchanged).
- `GET /api/declarative/objects/<kind>[/<name>]`: live objects as manifests.
- `DELETE /api/declarative/objects/<kind>/<name>`.
`env` carries the values of `passwordFromEnv` variables read where spctl runs. Thin
adapters over `reconciler.services.applier`; invalid manifests get a 400 naming file, object and
field path, exactly as `spctl --db` prints them.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from api.deps import AdminDep, PasswordsDep, StoreDep
from api.errors import ApiFailure, JsonBody
from reconciler.core.kinds import KINDS, KindInfo, lookup_kind
from reconciler.services import applier
from reconciler.services.manifests import ManifestError, from_wire

router = APIRouter(prefix="/api/declarative", tags=["declarative"])


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise ApiFailure(400, f"Bad request: {key} must be a boolean")
    return value


def _kind(word: str) -> KindInfo:
    info = lookup_kind(word)
    if info is None:
        raise ApiFailure(
            404,
            f'Not found: unknown kind "{word}" ({", ".join(i.plural for i in KINDS.values())})',
        )
    return info


@router.post("/apply")
def apply_route(body: JsonBody, store: StoreDep, user: AdminDep, passwords: PasswordsDep) -> Any:
    try:
        manifests = from_wire(body)
        dry_run, prune = _flag(body, "dryRun"), _flag(body, "prune")
        outcomes = applier.apply(
            store,
            manifests,
            dry_run=dry_run,
            prune=prune,
            now=int(time.time() * 1000),
            author=user.username,
            passwords=passwords,
        )
    except ManifestError as exc:
        raise ApiFailure(400, str(exc)) from None
    return {
        "dryRun": dry_run,
        "results": [{"object": o.ref, "action": o.action.value} for o in outcomes],
    }


@router.post("/diff")
def diff_route(body: JsonBody, store: StoreDep, _: AdminDep, passwords: PasswordsDep) -> Any:
    try:
        manifests = from_wire(body, unset_passwords_ok=True)
        prune, with_impact = _flag(body, "prune"), _flag(body, "impact")
        now = int(time.time() * 1000)
        if with_impact:
            outcomes, impact = applier.diff_impact(
                store, manifests, prune=prune, now=now, passwords=passwords
            )
        else:
            outcomes = applier.diff(store, manifests, prune=prune, now=now, passwords=passwords)
    except ManifestError as exc:
        raise ApiFailure(400, str(exc)) from None
    reply: dict[str, Any] = {
        "results": [{"object": o.ref, "action": o.action.value, "diff": o.diff} for o in outcomes],
        "warnings": [w for m in manifests for w in m.warnings],
    }
    if with_impact:
        reply["impact"] = impact.json()
    return reply


@router.get("/objects/{kind}")
def list_route(kind: str, store: StoreDep, _: AdminDep) -> Any:
    return applier.get(store, _kind(kind))


@router.get("/objects/{kind}/{name}")
def get_route(kind: str, name: str, store: StoreDep, _: AdminDep) -> Any:
    info = _kind(kind)
    found = applier.get(store, info, name)
    if not found:
        raise ApiFailure(404, f'Not found: {info.word} "{name}" not found')
    return found[0]


@router.delete("/objects/{kind}/{name}")
def delete_route(kind: str, name: str, store: StoreDep, _: AdminDep) -> Any:
    info = _kind(kind)
    if not applier.delete(store, info, name):
        raise ApiFailure(404, f'Not found: {info.word} "{name}" not found')
    return {"object": info.ref(name), "action": "deleted"}
