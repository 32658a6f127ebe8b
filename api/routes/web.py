"""Routes of the web page: the page itself, its static assets and its JSON endpoints.

- `GET /` (and `/web`): the sign-in form, or the page rendered for the signed-in user (the
  token is the `token` cookie, read as the API reads it).
- `POST /web/signin` `{username, password}`: `/api/signIn`, but the token is set as the
  HttpOnly session cookie (`api.web.session`) and left out of the reply; `POST /web/signout`
  clears the cookie. Both are checked by `api.csrf` like every cookie-authenticated write.
- `GET /web/static/<name>`: the script, style sheet and icons shipped in `api/web/static/`;
  `GET /favicon.ico`: the page's icon (an SVG), for browsers and tools that ask there.
- `GET /api/web/files?q=&sort=time|priority|path&limit=&cursor=&errors=`: one page of the
  file x site grid, filtered with the tracker's search grammar; `errors=true`: only files
  whose last attempt failed on some site (guest and above).
- `GET /api/web/file?id=<path>`: a file's keys, cells and history (guest and above).
- `GET /api/web/sites`: the hub and volumes with reachability, backlog and their last hour
  (throughput and backlog per minute, `activity`) (guest and above).
Writes go through the tracker routes (publish, comment, lock, unlock, update) and their
class checks; these routes only read.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import (
    CurrentUser,
    PasswordsDep,
    SettingsDep,
    StoreDep,
    User,
    get_settings,
    get_store,
    token_of,
    user_for_token,
)
from api.errors import ApiFailure
from api.routes import damas
from api.web.detail import file_detail
from api.web.grid import MAX_LIMIT, BadCursor, SortKey, grid_page, sites_of
from api.web.overview import overview
from api.web.page import app_page, signin_page, static_file
from api.web.session import clear_session, cookie_secure, set_session
from reconciler.core.domain import InvalidId, check_file_id
from reconciler.store.grid import files_filter
from reconciler.store.query import QueryError

router = APIRouter()
_NO_STORE = {"Cache-Control": "no-store"}


def _viewer(request: Request) -> User | None:
    """The signed-in user of the page request, or None (then the sign-in form is shown)."""
    store = get_store(request)

    def lookup(user_id: str) -> Any:
        with store.read() as tx:
            return tx.get(user_id)

    return user_for_token(token_of(request), get_settings(request).secret, lookup)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
@router.get("/web", response_class=HTMLResponse, include_in_schema=False)
def page(request: Request) -> HTMLResponse:
    viewer = _viewer(request)
    body = app_page(viewer) if viewer else signin_page()
    return HTMLResponse(body, headers=_NO_STORE)


@router.post("/web/signin", include_in_schema=False)
async def web_sign_in(
    request: Request, store: StoreDep, settings: SettingsDep, passwords: PasswordsDep
) -> Response:
    """`/api/signIn` (same checks and limits) whose token goes into the HttpOnly cookie only."""
    reply: Response = await damas.sign_in(request, store, settings, passwords)
    if reply.status_code != 200:
        return reply
    signed = json.loads(bytes(reply.body))
    out = JSONResponse({"_id": signed["_id"], "user": signed["user"]}, headers=_NO_STORE)
    set_session(out, signed["token"], secure=cookie_secure(request, settings))
    return out


@router.post("/web/signout", include_in_schema=False)
def web_sign_out(request: Request, settings: SettingsDep) -> Response:
    out = Response(status_code=204, headers=_NO_STORE)
    clear_session(out, secure=cookie_secure(request, settings))
    return out


@router.get("/web/static/{name}", include_in_schema=False)
def static(name: str) -> Response:
    found = static_file(name)
    if found is None:
        raise ApiFailure(404, f"Not found: no static file {name!r}")
    content, media_type = found
    # The page links assets with ?v=<hash of their content>, so they may be cached long.
    return Response(content, media_type=media_type, headers={"Cache-Control": "max-age=86400"})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    found = static_file("favicon.svg")
    if found is None:  # shipped with the package: only a broken install lacks it
        raise ApiFailure(404, "Not found: favicon.svg is not installed")
    content, media_type = found
    return Response(content, media_type=media_type, headers={"Cache-Control": "max-age=86400"})


@router.get("/api/web/files")
def files(
    user: CurrentUser,
    store: StoreDep,
    q: str = "",
    sort: str = "time",
    limit: int = 50,
    cursor: str | None = None,
    errors: bool = False,
) -> dict[str, Any]:
    try:
        order = SortKey(sort)
    except ValueError:
        raise ApiFailure(400, "sort: must be one of time, priority, path") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiFailure(400, f"limit: must be between 1 and {MAX_LIMIT}")
    with store.read() as tx:
        try:
            where = files_filter(q, tx.dialect, admin=user.is_admin, errors_only=errors)
            result = grid_page(tx, sort=order, limit=limit, cursor=cursor or None, where=where)
        except QueryError as exc:  # a bad query, or a regex PostgreSQL refuses
            raise ApiFailure(400, f"q: {exc}") from None
        except BadCursor as exc:
            raise ApiFailure(400, str(exc)) from None
    return {
        "sort": result.sort.value,
        "errors": errors,
        "sites": result.sites,
        "files": result.files,
        "next": result.next,
        "now": int(time.time() * 1000),
    }


@router.get("/api/web/file")
def file(_user: CurrentUser, store: StoreDep, id: str) -> dict[str, Any]:
    try:
        check_file_id(id)
    except InvalidId as exc:
        raise ApiFailure(400, f"id: {exc}") from None
    with store.read() as tx:
        detail = file_detail(tx, id)
        sites = sites_of(tx.config())
    if detail is None:
        raise ApiFailure(404, f"Not found: {id} is not tracked")
    return {**detail.as_json(), "sites": sites}


@router.get("/api/web/sites")
def sites(user: CurrentUser, store: StoreDep) -> dict[str, Any]:
    now = int(time.time() * 1000)
    with store.read() as tx:
        return {"sites": overview(tx, now_ms=now, admin=user.is_admin), "now": now}
