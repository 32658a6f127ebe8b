"""The FastAPI application factory: `create_app(settings)` (no work at import time)."""

from __future__ import annotations

from fastapi import FastAPI

from api.routes import damas, declarative, observability, sync, web
from api.settings import Settings
from reconciler.store import Store


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(title="SyncPlanet tracker", version="0.1.0")
    app.state.settings = settings
    app.state.store = store or Store.open(settings.db_url)
    for module in (damas, declarative, sync, observability, web):
        app.include_router(module.router)
    return app
