"""CSRF defence for requests authenticated by the session cookie (the web page's).

The scheme is OWASP's "verifying origin with standard headers": a state-changing request
(POST, PUT, PATCH, DELETE) whose token comes from the `token` cookie must name this
tracker's own origin in `Origin` (or, without `Origin`, in `Referer`); a cross-site origin,
`Origin: null`, or neither header → 403 before any route runs. Browsers set both headers
themselves and scripts cannot forge them. The session routes (`/web/signin`, `/web/signout`)
are checked with or without a cookie (no signing a victim into an attacker's account).

Such requests must also declare a JSON body (`Content-Type: application/json`), or send no
body: an HTML form from another site can post `text/plain` or form-encoded bodies without a
CORS preflight, and the API would otherwise parse them as JSON → 415.

Clients that send `Authorization` (Bearer tokens: spctl, the Python client, damas clients)
are not affected: browsers never add that header on their own, so it proves the request
was made on purpose. The tracker's own origin is the request's scheme and `Host`; behind a
TLS proxy, the proxy passes `Host` through and `X-Forwarded-Proto` (see `api.web.session`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import header_token
from api.errors import text_reply
from api.web.session import COOKIE

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_PATHS = frozenset({"/web/signin", "/web/signout"})
# Authenticated by the credentials in its body, never by the cookie; its reply is a token in
# JSON, which a cross-site page cannot read.
PASSWORD_PATHS = frozenset({"/api/signIn", "/api/signIn/"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL, lower-case, without the scheme's default port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


def cookie_session(request: Request) -> bool:
    """True when the request is authenticated by the session cookie, not a header."""
    return bool(request.cookies.get(COOKIE)) and header_token(request) is None


def _json_or_empty(request: Request) -> bool:
    headers = request.headers
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return not has_body or media_type == "application/json"


def refusal(request: Request) -> tuple[int, str] | None:
    """Why this request is refused (status, message), or None. Reads headers only."""
    if request.method not in UNSAFE_METHODS:
        return None
    path = request.url.path
    if path in PASSWORD_PATHS or (path not in SESSION_PATHS and not cookie_session(request)):
        return None
    own = origin_of(str(request.url))
    origin = request.headers.get("origin")
    referer = request.headers.get("referer")
    source = origin_of(origin) if origin else origin_of(referer) if referer else None
    if origin is None and referer is None:
        return 403, (
            "Forbidden: a request signed in by the session cookie must carry an Origin or "
            "Referer header (cross-site request forgery defence); API clients send "
            "Authorization: Bearer <token>"
        )
    if source is None or source != own:
        shown = origin if origin is not None else referer
        return 403, f"Forbidden: cross-site request refused (from {shown}, this site is {own})"
    if not _json_or_empty(request):
        return 415, (
            "Unsupported media type: requests signed in by the session cookie send JSON "
            "(Content-Type: application/json)"
        )
    return None


class CsrfGuard:
    """Refuses the requests `refusal` names before any route (or body parsing) runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = refusal(Request(scope))
            if refused is not None:
                await text_reply(*refused)(scope, receive, send)
                return
        await self.app(scope, receive, send)
