"""Observability routes: `/metrics`, `/api/status`, `/api/describe`, `/api/explain`,
`/api/listup`, `/api/listdown` (architecture.md#tracker-api, architecture.md#observability).

Thin adapters over `reconciler.services.status` / `reconciler.services.explain`: parse the
path, call one service function in one read transaction, return JSON. `/metrics` is open unless the
settings carry a metrics token (`SPCTL_METRICS_TOKEN`), then it wants `Bearer <token>`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import StoreDep, User, UserClass, require
from api.errors import ApiFailure
from reconciler.core.clock import now_ms
from reconciler.services.explain import explain
from reconciler.services.metrics import Metrics
from reconciler.services.status import (
    BadRequest,
    NotFound,
    describe_file,
    listdown,
    listup,
    site_status,
    to_json,
    worker_status,
)
from reconciler.store import Store, Tx

router = APIRouter()
Guest = Annotated[User, Depends(require(UserClass.GUEST))]
T = TypeVar("T")


def _read(store: Store, label: str, action: Callable[[Tx], T]) -> T:
    """Run one service call in a read transaction; its errors become 400 / 404."""
    try:
        with store.read() as tx:
            return action(tx)
    except NotFound as exc:
        raise ApiFailure(404, f"{label} error: Not found: {exc}") from None
    except BadRequest as exc:
        raise ApiFailure(400, f"{label} error: Bad request: {exc}") from None


def _file_path(path: str) -> str:
    # `/api/explain/a/b.exr` and `/api/explain/%2Fa%2Fb.exr` both name the file `/a/b.exr`.
    return path if path.startswith("/") else "/" + path


def _count(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ApiFailure(400, f"List error: Bad request: n: not an integer: {value!r}") from None


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise ApiFailure(401, "401 Unauthorized (the metrics token is required)")
    registry: Metrics = request.app.state.metrics
    registry.register_store_collector(request.app.state.store)
    return Response(generate_latest(registry.exposition()), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/status")
def status(store: StoreDep, _user: Guest) -> Any:
    return to_json(_read(store, "Status", site_status))


@router.get("/api/workers")
def workers(store: StoreDep, _user: Guest) -> Any:
    """The reconciler workers on this store: identity, heartbeat, running jobs, leases."""
    now = now_ms()
    return to_json(_read(store, "Workers", lambda tx: worker_status(tx, now)))


@router.get("/api/describe/{path:path}")
def describe(path: str, store: StoreDep, _user: Guest) -> Any:
    return to_json(_read(store, "Describe", lambda tx: describe_file(tx, _file_path(path))))


@router.get("/api/explain/{path:path}")
def explain_route(
    path: str, store: StoreDep, _user: Guest, site: Annotated[str | None, Query()] = None
) -> Any:
    now = now_ms()
    return to_json(
        _read(store, "Explain", lambda tx: explain(tx, _file_path(path), site or None, now=now))
    )


@router.get("/api/listup/{src}/{tgt}/{n}")
def listup_route(src: str, tgt: str, n: str, store: StoreDep, _user: Guest) -> Any:
    count, now = _count(n), now_ms()
    return to_json(_read(store, "Listup", lambda tx: listup(tx, src, tgt, count, now)))


@router.get("/api/listdown/{src}/{tgt}/{n}")
def listdown_route(src: str, tgt: str, n: str, store: StoreDep, _user: Guest) -> Any:
    count, now = _count(n), now_ms()
    return to_json(_read(store, "Listdown", lambda tx: listdown(tx, src, tgt, count, now)))
