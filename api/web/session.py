"""The web page's session cookie: set by the server on sign-in, cleared on sign-out.

The cookie `token` holds the same JWT an API client sends as `Authorization: Bearer`, and
`api.deps.token_of` reads it the same way. JavaScript never sees it:
- `HttpOnly`: a script injected into the page cannot read or send the token elsewhere;
- `SameSite=Strict`: browsers attach it to same-site requests only (CSRF, first layer;
  `api.csrf` is the second);
- `Secure` when the request came over HTTPS, or always with `SPCTL_COOKIE_SECURE=1` (a TLS
  proxy in front talking plain HTTP to the tracker). uvicorn takes the scheme from
  `X-Forwarded-Proto` only when the proxy's address is in `--forwarded-allow-ips`
  (`FORWARDED_ALLOW_IPS`, default `127.0.0.1,::1`).
No `Max-Age`: the cookie ends with the browser session, the token with its `exp`.
"""

from __future__ import annotations

from fastapi import Request, Response

from api.settings import Settings

COOKIE = "token"
PATH = "/"


def cookie_secure(request: Request, settings: Settings) -> bool:
    return settings.cookie_secure or request.url.scheme == "https"


def set_session(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(COOKIE, token, path=PATH, httponly=True, samesite="strict", secure=secure)


def clear_session(response: Response, *, secure: bool) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict", secure=secure)
