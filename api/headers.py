"""Security headers on every reply: no framing, no MIME sniffing, a strict Content-Security-Policy.

An ASGI middleware (outside the body limit and the CSRF check, so their refusals carry the
headers too) adds to each response start:
- `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: no page of the tracker can be
  framed (clickjacking of the lock, publish and priority controls).
- `X-Content-Type-Options: nosniff`: a JSON or text reply is never run as script or style.
- `Content-Security-Policy`: the web page loads only its own script, style sheet and icons
  (`default-src 'self'`, no inline script or style, no plugins, no `<base>`); `app.js` builds
  the DOM with `textContent` and listeners, never markup or `style` attributes.
- `Referrer-Policy: same-origin`: URLs (file paths in queries) never leave for other sites.
FastAPI's interactive documentation (`/docs`, `/redoc`) loads Swagger UI / ReDoc from their
CDN with an inline bootstrap script, so those pages alone get a policy allowing exactly that.
Replies rendered by Starlette's last-resort 500 handler bypass middlewares; they are plain
text and carry no page.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_CDN}; "
    f"style-src 'self' 'unsafe-inline' {_CDN}; img-src 'self' data: https:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The headers every reply to `path` carries."""
    policy = DOCS_POLICY if path in DOCS_PATHS else PAGE_POLICY
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]


class SecurityHeaders:
    """Adds `security_headers` to every HTTP response (replacing any set by a route)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(scope.get("path", ""))
        names = {name for name, _ in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
