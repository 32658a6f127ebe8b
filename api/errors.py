"""Error replies and request-body guards: every bad request gets a clear 4xx
(architecture.md#tracker-api).

- `ApiFailure(status, message)`: raised by services and dependencies, rendered as a plain-text
  body (damas-core style `Create error: Bad request ...`), which damas clients print as is.
- FastAPI's 422 validation errors become 400 naming the field; unknown routes 404, wrong
  methods 405, unexpected exceptions a plain 500 without a stack trace.
- `BodyLimit`: an ASGI middleware answering 413 for bodies over `Settings.max_body` before
  any route runs (nothing is stored).
- `QueryTimeLimit`: an ASGI middleware putting every database statement of a request under
  `Settings.query_timeout` (`reconciler.store.engine.statement_limit`); a statement stopped
  by it is a 503 with `Retry-After`, and the server carries on.
- `parse_json` / `json_body`: strict JSON (NaN and Infinity refused, no NUL or lone surrogate
  in any string); routes that take a JSON body use `JsonBody` (required) or
  `OptionalJsonBody`.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.store.engine import is_statement_timeout, statement_limit
from reconciler.store.errors import StoreUnavailable

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

    Strings holding NUL or a lone surrogate are refused too (`check_strings`).
    """
    try:
        value = strict_loads(raw)
    except (ValueError, RecursionError) as exc:
        text = raw[:200].decode("utf-8", "replace")
        raise ApiFailure(400, f"Bad request: invalid JSON request: {exc}: {text}") from None
    check_strings(value, raw)
    return value


# Only the escapes can bring these in (raw NUL is invalid JSON, raw surrogates invalid UTF-8).
_RISKY_ESCAPE = re.compile(rb"\\u(0000|[dD][89a-fA-F])")


def check_strings(value: Any, raw: str | bytes) -> None:
    """400 for a NUL or a lone surrogate (`"\\ud800"`) in any string, keys included.

    PostgreSQL cannot store NUL, ids must never hold one (architecture.md#tracker-api), and a lone
    surrogate has no UTF-8 form: stored on SQLite, every later reply holding it would fail (issue
    11). `raw` is the JSON text: the walk only runs when it holds one of those escapes.
    """
    text = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if _RISKY_ESCAPE.search(text) is None:
        return
    try:
        problem = _bad_string(value)
    except RecursionError:
        problem = "so many levels of nesting"
    if problem:
        raise ApiFailure(400, f"Bad request: strings must not contain {problem}")


def _bad_string(value: Any) -> str | None:
    if isinstance(value, str):
        if "\x00" in value:
            return "NUL (\\u0000)"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate (such as \\ud800): it is not Unicode text"
        return None
    if isinstance(value, dict):
        items: list[Any] = [*value.keys(), *value.values()]
        return next((p for p in map(_bad_string, items) if p), None)
    if isinstance(value, list):
        return next((p for p in map(_bad_string, value) if p), None)
    return None


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


# ---- statement time limit ----------------------------------------------------------------


class QueryTimeLimit:
    """Every statement that serving a request runs stops after `seconds` (0 = no limit)."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # A context variable: the route's worker thread inherits it, nothing else sees it.
        with statement_limit(self.seconds):
            await self.app(scope, receive, send)


def _timeout_reply(seconds: float) -> Response:
    message = (
        f"Service unavailable: the query ran longer than the limit of {seconds:g} s "
        "(SPCTL_QUERY_TIMEOUT) and was stopped; narrow it, or retry later"
    )
    return text_reply(503, message, {"Retry-After": str(max(1, round(seconds)))})


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


async def _on_database(request: Request, exc: Exception) -> Response:
    if is_statement_timeout(exc):
        return _timeout_reply(request.app.state.settings.query_timeout)
    return await _on_crash(request, exc)


async def _on_crash(request: Request, exc: Exception) -> Response:
    # The last line of defence: log the trace server-side, never send it to the client.
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return text_reply(500, "Internal error (see the server log)")


def install(app: FastAPI, *, max_body: int, query_timeout: float = 0) -> None:
    """Wire the handlers, the body limit and the statement time limit into `app`."""
    app.add_exception_handler(ApiFailure, _on_failure)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(StoreUnavailable, _on_database)
    app.add_exception_handler(Exception, _on_crash)
    app.add_middleware(BodyLimit, limit=max_body)
    if query_timeout:
        app.add_middleware(QueryTimeLimit, seconds=query_timeout)
