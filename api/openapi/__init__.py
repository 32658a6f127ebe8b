"""The OpenAPI document served at /openapi.json: FastAPI's, completed for every route.

`install(app)` replaces `app.openapi()` by `document(app)`: FastAPI's document with the
request bodies and replies of `api.openapi.routes.ROUTES` merged in, and the shared schemas
of `api.openapi.schemas`. Routes without an entry keep FastAPI's description plus the error
replies any route can give. The fuzz test (`tests/api/test_fuzz.py`) holds the running
server to this document.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.openapi.routes import ROUTES
from api.openapi.schemas import COMPONENTS, ERRORS, Schema, dataclass_schemas


def _merge(path: str, operation: Schema, described: Schema | None) -> None:
    """Replace FastAPI's replies (its 422 never happens: `api.errors` answers 400)."""
    if described is None:
        responses = operation.get("responses", {})
        responses.pop("422", None)
        for code in ("400", "401", "403", "404", "413", "503"):
            responses.setdefault(code, ERRORS[code])
        return
    operation.update(described)
    if "{" in path:  # a parameter holding a line break matches no route: 404
        operation["responses"] = {**operation["responses"], "404": ERRORS["404"]}


def document(app: FastAPI) -> Schema:
    """FastAPI's document with the bodies and replies of `ROUTES` merged in."""
    spec = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            _merge(path, operation, ROUTES.get((path, method)))
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # only FastAPI's 422 used them
        schemas.pop(name, None)
    schemas.update({**COMPONENTS, **dataclass_schemas()})
    spec["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    spec["security"] = [{"bearer": []}]
    return spec


def install(app: FastAPI) -> None:
    """Serve `document(app)` at /openapi.json (built once, on the first request)."""

    def openapi() -> Schema:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
