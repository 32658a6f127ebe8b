"""The FastAPI application factory: `create_app(settings)` (no work at import time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from argon2 import PasswordHasher
from fastapi import FastAPI

from api import errors, openapi
from api.csrf import CsrfGuard
from api.headers import SecurityHeaders
from api.request_metrics import RequestCounter
from api.routes import damas, declarative, observability, web
from api.settings import Settings
from api.users import ensure_admin
from reconciler.core.passwords import Passwords
from reconciler.services.metrics import Metrics
from reconciler.store import Store


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    reader = getattr(app.state, "fast_reader", None)
    if reader is not None:
        reader.close()


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    metrics: Metrics | None = None,
    hasher: PasswordHasher | None = None,
) -> FastAPI:
    """Build the tracker app; `spctl run` passes the reconciler's store and metrics.

    On a store without users this creates `admin` (SPCTL_ADMIN_PASSWORD or a generated
    password printed once). `hasher` sets the argon2 cost (tests pass a cheap one).
    """
    settings = settings or Settings.from_env()
    app = FastAPI(title="SyncPlanet tracker", version="0.1.0", lifespan=_lifespan)
    app.state.settings = settings
    app.state.store = store or Store.open(settings.db_url)
    app.state.metrics = metrics or Metrics()
    app.state.passwords = Passwords(hasher)
    errors.install(app, max_body=settings.max_body, query_timeout=settings.query_timeout)
    app.add_middleware(CsrfGuard)  # before the body is read (outside the body limit)
    app.add_middleware(SecurityHeaders)  # every reply, refusals included
    app.add_middleware(RequestCounter, metrics=app.state.metrics)  # outermost: counts them all
    for module in (damas, declarative, observability, web):
        app.include_router(module.router)
    app.router.routes[:0] = damas.lean_routes()  # the hot reads skip dependency solving
    openapi.install(app)
    ensure_admin(app.state.store, settings, app.state.passwords)
    return app
