"""The FastAPI application factory: `create_app(settings)` (no work at import time)."""

from __future__ import annotations

from fastapi import FastAPI

from api.routes import damas, declarative, observability, sync, web
from api.settings import Settings
from reconciler.metrics import Metrics
from reconciler.store import Store


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    metrics: Metrics | None = None,
) -> FastAPI:
    """Build the tracker app; `spctl run` passes the reconciler's store and metrics."""
    settings = settings or Settings.from_env()
    app = FastAPI(title="SyncPlanet tracker", version="0.1.0")
    app.state.settings = settings
    app.state.store = store or Store.open(settings.db_url)
    app.state.metrics = metrics or Metrics()
    for module in (damas, declarative, sync, observability, web):
        app.include_router(module.router)
    return app
