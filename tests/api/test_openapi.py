"""The served OpenAPI document: every route has its entry in `api.openapi.routes`."""

from __future__ import annotations

from api.openapi.routes import ROUTES
from tests.api.conftest import Api


def test_every_route_is_described(api: Api) -> None:
    served = api.http.get("/openapi.json").json()["paths"]
    operations = {(path, method) for path, ops in served.items() for method in ops}
    assert operations - ROUTES.keys() == set(), "add these routes to api/openapi/routes.py"


def test_errors_are_plain_text_and_422_never_documented(api: Api) -> None:
    served = api.http.get("/openapi.json").json()["paths"]
    for ops in served.values():
        for operation in ops.values():
            replies = operation["responses"]
            assert "422" not in replies  # api.errors answers 400
            for code, reply in replies.items():
                media = set(reply.get("content", {}))
                assert media == ({"text/plain"} if int(code) >= 400 else {"application/json"})
