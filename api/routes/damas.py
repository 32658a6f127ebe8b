"""Routes: the damas-core compatible API (`/api/create/` ... `/api/signIn`) and `/healthz`.

Thin adapters: parse the request, check the caller's class, call one function of
`api.service` / `api.dam` / `api.users` in a store transaction, render its `Reply`.
Trailing slashes are optional, as in damas-core. `GET /api/read/<ids>` is the lean path
(`api.fastread`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Route

from api import dam, service, users
from api.deps import (
    CurrentUser,
    EditorDep,
    PasswordsDep,
    SettingsDep,
    StoreDep,
    User,
    UserDep,
    token_of,
)
from api.errors import ApiFailure, JsonBody, OptionalJsonBody, optional_json_body, parse_json
from api.fastread import FastReader, read_texts
from api.service import Context, Reply
from api.settings import Settings
from reconciler.core.clock import now_ms
from reconciler.store import Store, Tx
from reconciler.version import version as syncplanet_version

router = APIRouter(tags=["damas"])
Limit = Annotated[int, Query(ge=0, description="extension: at most this many ids (0 = all)")]
Skip = Annotated[int, Query(ge=0, description="extension: skip this many ids")]


def route(method: str, path: str, **kwargs: Any) -> Callable[[Any], Any]:
    """Register `path` with and without its trailing slash (damas-core accepts both)."""

    def decorate(func: Any) -> Any:
        router.add_api_route(path, func, methods=[method], **kwargs)
        other = path[:-1] if path.endswith("/") else path + "/"
        router.add_api_route(other, func, methods=[method], include_in_schema=False, **kwargs)
        return func

    return decorate


def context(request: Request, user: User) -> Context:
    settings: Settings = request.app.state.settings
    return Context(
        user=user,
        now=now_ms(),
        passwords=request.app.state.passwords,
        author_mode=settings.author_mode,
        create_returns_obj=settings.create_returns_obj,
        max_doc=settings.max_doc,
    )


def render(reply: Reply) -> Response:
    return JSONResponse(reply.body, status_code=reply.status)


def write(store: Store, action: Callable[[Tx], Reply]) -> Response:
    with store.write() as tx:
        return render(action(tx))


def read_only(store: Store, action: Callable[[Tx], Any]) -> Any:
    with store.read() as tx:
        return action(tx)


# ---- cruds -------------------------------------------------------------------------------


@route("POST", "/api/create/", status_code=201)
def create(request: Request, store: StoreDep, user: UserDep, body: JsonBody) -> Response:
    ctx = context(request, user)
    return write(store, lambda tx: service.create(tx, ctx, body))


@route("GET", "/api/read/{ids:path}")
async def read_get(request: Request, ids: str) -> Response:
    """Comma-separated ids (a raw `/` is fine: `/api/read//shots/a.exr`)."""
    return await _read_get(request, ids)


async def read_get_lean(request: Request) -> Response:
    """The same route as a bare Starlette endpoint (no dependency solving): see `lean_routes`."""
    return await _read_get(request, request.path_params["ids"])


def lean_routes() -> list[BaseRoute]:
    """Routes that `create_app` puts first: they answer before the documented FastAPI ones."""
    return [Route("/api/read/{ids:path}", read_get_lean, methods=["GET"])]


async def _read_get(request: Request, ids: str) -> Response:
    wanted = ids.split(",") if ids else []
    if not wanted:
        raise ApiFailure(400, "Read error: Bad request: no _id given")
    for node_id in wanted:
        service.check_id("Read", node_id)
    reader = _fast_reader(request)
    token = token_of(request)
    secret = request.app.state.settings.secret
    status, text = await read_texts(reader, token, secret, wanted)
    return Response(text, status_code=status, media_type="application/json")


def _fast_reader(request: Request) -> FastReader:
    reader = getattr(request.app.state, "fast_reader", None)
    if reader is None:
        reader = request.app.state.fast_reader = FastReader(request.app.state.store)
    return reader


@route("POST", "/api/read/")
def read_post(request: Request, store: StoreDep, user: CurrentUser, body: JsonBody) -> Response:
    ctx = context(request, user)
    return render(read_only(store, lambda tx: service.read(tx, ctx, body)))


@route("PUT", "/api/update/")
def update(request: Request, store: StoreDep, user: EditorDep, body: JsonBody) -> Response:
    ctx = context(request, user)
    return write(store, lambda tx: service.update(tx, ctx, body))


@route("POST", "/api/upsert/")
def upsert(request: Request, store: StoreDep, user: EditorDep, body: JsonBody) -> Response:
    ctx = context(request, user)
    return write(store, lambda tx: service.upsert(tx, ctx, body))


@route("DELETE", "/api/delete/")
def delete(request: Request, store: StoreDep, user: EditorDep, body: JsonBody) -> Response:
    ctx = context(request, user)
    return write(store, lambda tx: service.delete(tx, ctx, body))


@route("GET", "/api/graph/{depth}/{ids:path}")
def graph_get(
    request: Request, store: StoreDep, user: CurrentUser, depth: int, ids: str
) -> Response:
    ctx = context(request, user)
    wanted: Any = ids.split(",") if ids else []
    return render(read_only(store, lambda tx: service.graph(tx, ctx, depth, wanted)))


@route("POST", "/api/graph/{depth}/")
def graph_post(
    request: Request, store: StoreDep, user: CurrentUser, depth: int, body: JsonBody
) -> Response:
    ctx = context(request, user)
    return render(read_only(store, lambda tx: service.graph(tx, ctx, depth, body)))


# ---- searches ----------------------------------------------------------------------------


def _query(raw: str) -> str:
    # damas-core decodes the path twice: a literal '%' arrives double-encoded.
    return unquote(raw)


@route("GET", "/api/search/{query:path}")
def search(
    store: StoreDep, user: CurrentUser, query: str, limit: Limit = 0, skip: Skip = 0
) -> Response:
    ids = read_only(
        store,
        lambda tx: service.search_text(
            tx, _query(query), limit=limit, skip=skip, admin=user.is_admin
        ),
    )
    return JSONResponse(ids)


@route("GET", "/api/search_one/{query:path}")
def search_one(request: Request, store: StoreDep, user: CurrentUser, query: str) -> Response:
    ctx = context(request, user)
    return JSONResponse(read_only(store, lambda tx: service.search_one(tx, ctx, _query(query))))


@route("POST", "/api/search_mongo/")
def search_mongo(store: StoreDep, user: CurrentUser, body: OptionalJsonBody) -> Response:
    return JSONResponse(
        read_only(store, lambda tx: service.search_mongo(tx, body, admin=user.is_admin))
    )


# ---- dam extension -----------------------------------------------------------------------


@route("POST", "/api/publish/", status_code=201)
def publish(request: Request, store: StoreDep, user: UserDep, body: JsonBody) -> Response:
    ctx = context(request, user)
    return write(store, lambda tx: dam.publish(tx, ctx, body))


@route("POST", "/api/comment/", status_code=201)
def comment(request: Request, store: StoreDep, user: UserDep, body: JsonBody) -> Response:
    ctx = context(request, user)
    return write(store, lambda tx: dam.comment(tx, ctx, body))


@route("PUT", "/api/lock/")
def lock(request: Request, store: StoreDep, user: UserDep, body: JsonBody) -> Response:
    ctx = context(request, user)
    return write(store, lambda tx: dam.lock(tx, ctx, body))


@route("PUT", "/api/unlock/")
def unlock(request: Request, store: StoreDep, user: UserDep, body: JsonBody) -> Response:
    ctx = context(request, user)
    return write(store, lambda tx: dam.unlock(tx, ctx, body))


@route("POST", "/api/version/{node_id:path}", status_code=201)
def version(
    request: Request, store: StoreDep, user: UserDep, node_id: str, body: JsonBody
) -> Response:
    ctx = context(request, user)
    return write(store, lambda tx: dam.version(tx, ctx, node_id, body))


# ---- users and tokens --------------------------------------------------------------------


async def _credentials(request: Request) -> dict[str, Any]:
    """signIn takes JSON or a form (damas-core's clients post forms)."""
    raw = await request.body()
    if "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
        try:
            return dict(parse_qsl(raw.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            raise ApiFailure(400, "Bad request: the form is not UTF-8") from None
    body = parse_json(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise ApiFailure(400, "Bad request: signIn needs an object {username, password}")
    return body


@route("POST", "/api/signIn")
async def sign_in(
    request: Request, store: StoreDep, settings: SettingsDep, passwords: PasswordsDep
) -> Response:
    body = await _credentials(request)
    address = request.client.host if request.client else None

    def run() -> dict[str, Any]:
        return users.sign_in(store, passwords, settings, body, address=address, now_ms=now_ms())

    return JSONResponse(await run_in_threadpool(run))


@route("GET", "/api/verify")
def verify(user: CurrentUser) -> Response:
    return JSONResponse(user.doc)


async def _form_or_json(request: Request) -> Any:
    """A form (`expiresIn=2h`, what damas-core's clients post) or an optional JSON body."""
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return await optional_json_body(request)
    try:
        return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        raise ApiFailure(400, "Bad request: the form is not UTF-8") from None


@route("POST", "/api/createToken")
def create_token(
    store: StoreDep,
    settings: SettingsDep,
    user: CurrentUser,
    body: Annotated[Any, Depends(_form_or_json)],
) -> Response:
    token = read_only(
        store, lambda tx: users.create_token(tx, settings, str(user.doc["_id"]), body, now_ms())
    )
    return JSONResponse(token)


@route("POST", "/api/changePassword/")
def change_password(
    store: StoreDep,
    settings: SettingsDep,
    passwords: PasswordsDep,
    user: CurrentUser,
    body: JsonBody,
) -> Response:
    user_id = str(user.doc["_id"])
    reply = users.change_password(store, passwords, settings, user_id, body, now_ms=now_ms())
    return JSONResponse(reply)


@router.get("/healthz", tags=["health"])
def healthz(store: StoreDep) -> Response:
    """Liveness, store reachability and the running version; no token needed."""
    read_only(store, lambda tx: tx.meta_get("config_fingerprint"))
    return JSONResponse({"status": "ok", "store": store.dialect, "version": syncplanet_version()})
