"""Error replies and request-body guards: every bad request gets a clear 4xx (SPEC §6.1).

- `ApiFailure(status, message)`: raised by services and dependencies, rendered as a plain-text
  body (damas-core style `Create error: Bad request ...`), which damas clients print as is.
- FastAPI's 422 validation errors become 400 naming the field; unknown routes 404, wrong
  methods 405, unexpected exceptions a plain 500 without a stack trace.
- `BodyLimit`: an ASGI middleware answering 413 for bodies over `Settings.max_body` before
  any route runs (nothing is stored).
- `parse_json` / `json_body`: strict JSON (NaN and Infinity refused); routes that take a JSON
  body use `JsonBody` (required) or `OptionalJsonBody`.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("syncplanet.api")

BAD_REQUEST = "Bad request (empty or not well-formed)"


class ApiFailure(Exception):
    """An HTTP error with a message for the caller."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}  # e.g. Retry-After on 429 / 503


def bad_request(label: str, detail: str = "") -> ApiFailure:
    reason = f"Bad request: {detail}" if detail else BAD_REQUEST
    return ApiFailure(400, f"{label} error: {reason}")


def text_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(message, status_code=status, headers=headers)


# ---- JSON bodies -------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def strict_loads(raw: str | bytes) -> Any:
    """json.loads refusing NaN, Infinity and -Infinity (they are not JSON)."""
    return json.loads(raw, parse_constant=_refuse_constant)


def parse_json(raw: bytes) -> Any:
    """Strict JSON for a request body; 400 naming the problem otherwise.

    Strings holding NUL are refused too: PostgreSQL cannot store them, and ids must never
    hold one (SPEC §6.1).
    """
    try:
        value = strict_loads(raw)
    except (ValueError, RecursionError) as exc:
        text = raw[:200].decode("utf-8", "replace")
        raise ApiFailure(400, f"Bad request: invalid JSON request: {exc}: {text}") from None
    if b"\\u0000" in raw and _has_nul(value):
        raise ApiFailure(400, "Bad request: strings must not contain NUL (\\u0000)")
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


async def read_json(request: Request, *, required: bool) -> Any:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ApiFailure(400, "Bad request: a JSON body is required")
        return None
    return parse_json(raw)


async def json_body(request: Request) -> Any:
    return await read_json(request, required=True)


async def optional_json_body(request: Request) -> Any:
    return await read_json(request, required=False)


JsonBody = Annotated[Any, Depends(json_body)]
OptionalJsonBody = Annotated[Any, Depends(optional_json_body)]


# ---- body size limit ---------------------------------------------------------------------


class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 for request bodies over `limit` bytes (declared length or streamed count)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked_send)
        except _TooLarge:
            if not started:
                await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"Payload too large: the body exceeds {self.limit} bytes"
        await text_reply(413, message)(scope, receive, send)


# ---- exception handlers ------------------------------------------------------------------


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc) or "request"


async def _on_failure(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiFailure)
    return text_reply(exc.status, exc.message, exc.headers)


async def _on_validation(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    parts = [f"{_field(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors[:5]]
    return text_reply(400, "Bad request: " + "; ".join(parts))


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"Not found: Cannot {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"Method not allowed: {request.method} {request.url.path}"
    else:
        message = str(exc.detail)
    return Response(
        message, status_code=exc.status_code, headers=exc.headers, media_type="text/plain"
    )


async def _on_crash(request: Request, exc: Exception) -> Response:
    # The last line of defence: log the trace server-side, never send it to the client.
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return text_reply(500, "Internal error (see the server log)")


def install(app: FastAPI, *, max_body: int) -> None:
    """Wire the handlers and the body limit into `app`."""
    app.add_exception_handler(ApiFailure, _on_failure)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_crash)
    app.add_middleware(BodyLimit, limit=max_body)
