"""The damas-core operations as functions on a `Tx`, shared by the HTTP routes and `spctl`.

Each takes the transaction, a `Context` (caller, options, clock) and the parsed request
body, and returns a `Reply(status, body)` with damas-core's reply shapes: a single input gives
a bare value, an array input an array, `null` placeholders with 207, 404 when nothing was
found, 409 on conflicts (architecture.md#tracker-api, `reference/damas-core-api.md`). Invalid input
raises `ApiFailure` (400/403; 413 for a document that would be stored over `Context.max_doc`).
Writes go through `Tx` so the work-queue rows stay maintained. The dam-extension operations
(publish, comment, lock, version) are in `api.dam`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from api.auth import is_user_id, public_doc
from api.deps import User
from api.errors import ApiFailure, bad_request
from api.search import loads_queryobj
from api.secrets import redact_config
from api.users import user_changes
from reconciler.core.domain import InvalidId, NodeKind, check_file_id, node_kind
from reconciler.core.passwords import Passwords
from reconciler.store import Tx, search
from reconciler.store.graph import edges_into
from reconciler.store.query import QueryError

Doc = dict[str, Any]
RESTRICTED_KEYS = ("author", "time")  # only admins set them (architecture.md#tracker-api)
NULL_ENTRY = "null"  # damas-core: the string "null" in an update array is skipped and echoed
MAX_DOC = 1024 * 1024  # bytes of JSON of one stored document (Settings.max_doc, SPCTL_MAX_DOC)


@dataclass(frozen=True)
class Context:
    user: User
    now: int  # ms
    passwords: Passwords
    author_mode: bool = False
    create_returns_obj: bool = False
    max_doc: int = MAX_DOC


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any


def new_id() -> str:
    """A generated `_id`: 24 hex digits, the shape of damas-core's Mongo ObjectIds."""
    return secrets.token_hex(12)


ULID_MARK = "{#}"  # damas-core's ulid hook: the first one in a created `_id` becomes a ULID
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now_ms: int) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, 26 Crockford base-32 digits."""
    value = (now_ms & (2**48 - 1)) << 80 | int.from_bytes(secrets.token_bytes(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def check_id(label: str, node_id: object) -> str:
    if not isinstance(node_id, str) or not node_id:
        raise bad_request(label, f"_id must be a non-empty string, not {node_id!r}")
    if "\x00" in node_id:
        raise bad_request(label, "_id must not contain NUL")
    if node_id.startswith("/"):
        try:
            check_file_id(node_id)
        except InvalidId as exc:
            raise bad_request(label, str(exc)) from None
    return node_id


def check_ids(label: str, body: object) -> tuple[list[str], bool]:
    """An id or a non-empty array of ids: (ids, single)."""
    if isinstance(body, str):
        return [check_id(label, body)], True
    if isinstance(body, list) and body:
        return [check_id(label, i) for i in body], False
    raise bad_request(label, "expected an _id string or a non-empty array of _id strings")


def may_write(ctx: Context, node_id: str, label: str) -> None:
    """Users and configuration objects are written by admins only (architecture.md#tracker-api)."""
    if not ctx.user.is_admin and node_kind(node_id) in (NodeKind.USER, NodeKind.CONFIG):
        raise ApiFailure(
            403, f"Access {label.lower()} error: Forbidden (admin required to write {node_id})"
        )


def owned(ctx: Context, doc: Doc | None) -> bool:
    """authorMode: may the caller modify `doc`? Missing documents count as owned."""
    if doc is None or ctx.user.is_admin or not ctx.author_mode:
        return True
    author = doc.get("author")
    name = ctx.user.username
    return author == name or (isinstance(author, list) and name in author)


def client_keys(ctx: Context, doc: Doc, label: str) -> Doc:
    """The keys a caller may write: non-admins lose author/time; user passwords are hashed."""
    keys = (
        dict(doc)
        if ctx.user.is_admin
        else {k: v for k, v in doc.items() if k not in RESTRICTED_KEYS}
    )
    if "_id" in keys and is_user_id(keys["_id"]):
        keys = user_changes(keys, ctx.passwords, label)
    return keys


def doc_size(doc: Doc) -> int:
    """Bytes of `doc` as compact UTF-8 JSON (what the stores keep, give or take spaces)."""
    return len(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())


def check_sizes(ctx: Context, label: str, docs: Iterable[Doc | None]) -> None:
    """413 when a document to be stored is over the limit (the transaction then rolls back).

    Much smaller than the body limit: every search parses the documents it tests, so one
    48 MB document cost gigabytes of memory to a search with a few terms (issue 11).
    """
    for doc in docs:
        if doc is None:
            continue
        size = doc_size(doc)
        if size > ctx.max_doc:
            raise ApiFailure(
                413,
                f"{label} error: Payload too large: document {str(doc.get('_id'))[:200]!r} "
                f"would hold {size} bytes of JSON, over the limit of {ctx.max_doc} bytes "
                "per stored document (SPCTL_MAX_DOC)",
            )


def objects(label: str, body: object) -> tuple[list[Doc], bool]:
    """An object or a non-empty array of objects, `_id` arrays unfolded: (docs, single)."""
    items = body if isinstance(body, list) else [body]
    dicts = [i for i in items if isinstance(i, dict)]
    if not items or len(dicts) != len(items):
        raise bad_request(label, "expected an object or a non-empty array of objects")
    single = not isinstance(body, list)
    out: list[Doc] = []
    for item in dicts:
        ids = item.get("_id")
        if isinstance(ids, list):
            single = False
            out.extend({**item, "_id": i} for i in ids)
        else:
            out.append(dict(item))
    return out, single


def _present(ctx: Context, doc: Doc | None) -> Any:
    """A stored document as the caller may see it: no password material, and configuration
    secrets redacted below admin (`api.secrets`)."""
    if doc is None:
        return None
    return public_doc(doc) if ctx.user.is_admin else redact_config(public_doc(doc))


def _created(ctx: Context, doc: Doc) -> Any:
    return public_doc(doc) if ctx.create_returns_obj else doc["_id"]


def gather(results: Sequence[Any], *, single: bool, ok: int, denied: int = 0) -> Reply:
    """damas-core's multi-item reply: 404 all missing, 207 some, else `ok`; unwrap single."""
    if results and all(r is None for r in results):
        if denied:
            return Reply(403, "Forbidden (authorMode: not the author)")
        return Reply(404, None)
    status = 207 if any(r is None for r in results) else ok
    return Reply(status, results[0] if single and len(results) == 1 else list(results))


def fail(label: str, reply: Reply) -> Reply:
    """Turn body-less 404/409 replies into damas-core's `<Label> error: ...` failures."""
    if reply.status == 404 and reply.body is None:
        raise ApiFailure(404, f"{label} error: Not found")
    if reply.status == 403:
        raise ApiFailure(403, f"{label} error: {reply.body}")
    return reply


# ---- cruds -------------------------------------------------------------------------------


def create(tx: Tx, ctx: Context, body: object) -> Reply:
    label = "Create"
    docs, single = objects(label, body)
    prepared = []
    for doc in docs:
        if doc.get("_id") is None:
            doc["_id"] = new_id()
        elif isinstance(doc["_id"], str) and ULID_MARK in doc["_id"]:
            doc["_id"] = doc["_id"].replace(ULID_MARK, new_ulid(ctx.now), 1)
        check_id(label, doc["_id"])
        may_write(ctx, doc["_id"], label)
        prepared.append(
            {"author": ctx.user.username, "time": ctx.now, **client_keys(ctx, doc, label)}
        )
    check_sizes(ctx, label, prepared)
    inserted = tx.insert_many(prepared)
    results = [_created(ctx, d) if ok else None for d, ok in zip(prepared, inserted, strict=True)]
    if not any(inserted):
        raise ApiFailure(409, f"{label} error: Conflict (the _id already exists)")
    return Reply(207 if not all(inserted) else 201, results[0] if single else results)


def read(tx: Tx, ctx: Context, body: object, *, single: bool | None = None) -> Reply:
    ids, one = check_ids("Read", body)
    docs = tx.get_many(ids)
    return fail(
        "Read",
        gather([_present(ctx, d) for d in docs], single=one if single is None else single, ok=200),
    )


def update(tx: Tx, ctx: Context, body: object) -> Reply:
    label = "Update"
    items = body if isinstance(body, list) else [body]
    plan: list[Doc | str] = []
    for item in items:
        if item == NULL_ENTRY:
            plan.append(NULL_ENTRY)
            continue
        if not isinstance(item, dict) or "_id" not in item or len(item) < 2:
            raise bad_request(label, "each element needs an _id and at least one other key")
        unfolded, _ = objects(label, item)
        plan.extend(unfolded)
    if not plan:
        raise bad_request(label)
    docs = [d for d in plan if isinstance(d, dict)]
    for doc in docs:
        check_id(label, doc["_id"])
        may_write(ctx, doc["_id"], label)
    current = dict(
        zip([d["_id"] for d in docs], tx.get_many([d["_id"] for d in docs]), strict=True)
    )
    denied = {i for i, d in current.items() if not owned(ctx, d)}
    changes = {d["_id"]: client_keys(ctx, d, label) for d in docs if d["_id"] not in denied}
    check_sizes(ctx, label, changes.values())  # early, before any work
    updated = tx.patch_many(changes)
    check_sizes(ctx, label, updated.values())  # the merged documents
    results = [p if isinstance(p, str) else _present(ctx, updated.get(p["_id"])) for p in plan]
    return fail(label, gather(results, single=True, ok=200, denied=len(denied)))


def upsert(tx: Tx, ctx: Context, body: object) -> Reply:
    label = "Upsert"
    docs, _ = objects(label, body)
    for doc in docs:
        if doc.get("_id") in (None, NULL_ENTRY):
            doc["_id"] = new_id()
        check_id(label, doc["_id"])
        may_write(ctx, doc["_id"], label)
    current = dict(
        zip([d["_id"] for d in docs], tx.get_many([d["_id"] for d in docs]), strict=True)
    )
    fresh = [
        {"author": ctx.user.username, "time": ctx.now, **client_keys(ctx, d, label)}
        for d in docs
        if current[d["_id"]] is None
    ]
    check_sizes(ctx, label, fresh)
    inserted = tx.insert_many(fresh)
    existing = [d for d in docs if current[d["_id"]] is not None]
    denied = {d["_id"] for d in existing if not owned(ctx, current[d["_id"]])}
    changes = {d["_id"]: client_keys(ctx, d, label) for d in existing if d["_id"] not in denied}
    check_sizes(ctx, label, changes.values())
    updated = tx.patch_many(changes)
    check_sizes(ctx, label, updated.values())
    # damas-core: all new -> ids (objects with create_returns_obj), mixed -> the created
    # nodes as objects, then the updated ones
    shown = public_doc if existing else (lambda d: _created(ctx, d))
    created = [shown(d) for d, ok in zip(fresh, inserted, strict=True) if ok]
    changed = [_present(ctx, updated.get(d["_id"])) for d in existing]
    results = created + changed
    if results and all(r is None for r in results):
        raise ApiFailure(403, f"{label} error: Forbidden (authorMode: not the author)")
    return Reply(200, results[0] if len(results) == 1 else results)


def delete(tx: Tx, ctx: Context, body: object) -> Reply:
    label = "Delete"
    ids, single = check_ids(label, body)
    for node_id in ids:
        may_write(ctx, node_id, label)
    current = dict(zip(ids, tx.get_many(ids), strict=True))
    denied = {i for i, d in current.items() if not owned(ctx, d)}
    gone = tx.delete_many([i for i in ids if i not in denied])
    removed = {i for i, ok in zip([i for i in ids if i not in denied], gone, strict=True) if ok}
    results = [i if i in removed else None for i in ids]
    return fail(label, gather(results, single=single, ok=200, denied=len(denied)))


def graph(tx: Tx, ctx: Context, depth: int, body: object) -> Reply:
    """Requested nodes, then the sources found by walking edges (`tgt_id` -> `src_id`)."""
    if depth < 0:
        raise bad_request("Graph", "depth must be 0 (no limit) or a positive number of hops")
    ids, _ = check_ids("Graph", body)
    requested = tx.get_many(ids)
    seen = {d["_id"] for d in requested if d is not None}
    frontier, hops = set(seen), 0
    sources: list[Doc] = []
    edges: list[Doc] = []
    while frontier and (depth == 0 or hops < depth):
        hops += 1
        found = edges_into(tx, sorted(frontier))
        edges.extend(e for e in found if e["_id"] not in seen)
        seen.update(e["_id"] for e in found)
        src = sorted({str(e["src_id"]) for e in found} - seen)
        new = [d for d in tx.get_many(src) if d is not None]
        sources.extend(new)
        seen.update(d["_id"] for d in new)
        frontier = {d["_id"] for d in new}
    if all(d is None for d in requested):
        raise ApiFailure(404, "Graph error: Not found")
    results = [_present(ctx, d) for d in (*requested, *sources, *edges)]
    return Reply(207 if any(d is None for d in requested) else 200, results)


# ---- searches ----------------------------------------------------------------------------


def _searching(label: str, run: Callable[[], Any]) -> Any:
    try:
        return run()
    except QueryError as exc:
        raise bad_request(label, str(exc)) from None


def _page_bounds(label: str, limit: object, skip: object) -> None:
    for name, value in (("limit", limit), ("skip", skip)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad_request(label, f"{name} must be a non-negative integer")
        if value > search.MAX_PAGE:
            raise bad_request(label, f"{name} must be at most {search.MAX_PAGE}")


def search_text(
    tx: Tx, query: str, *, limit: int = 0, skip: int = 0, admin: bool = False
) -> list[str]:
    _page_bounds("Search", limit, skip)

    def run() -> list[str]:
        cond = search.text_condition(query, tx.dialect, admin=admin)
        return search.find_ids(tx, cond, search.Page((), limit, skip))

    return list(_searching("Search", run))


def search_one(tx: Tx, ctx: Context, query: str) -> Any:
    ids = search_text(tx, query, limit=1, admin=ctx.user.is_admin)
    return _present(ctx, tx.get(ids[0])) if ids else None


def search_mongo(tx: Tx, body: object, *, admin: bool = False) -> dict[str, Any]:
    label = "Search_mongo"
    body = {} if body is None else body
    if not isinstance(body, dict):
        raise bad_request(label, "expected an object {query, sort, limit, skip}")
    limit, skip = body.get("limit") or 0, body.get("skip") or 0
    _page_bounds(label, limit, skip)

    def run() -> dict[str, Any]:
        query = body.get("query")
        if "queryobj" in body:
            query = loads_queryobj(body["queryobj"])
        cond = search.mongo_condition(query, tx.dialect, admin=admin)
        order = search.parse_sort(body.get("sort"), tx.dialect, admin=admin)
        ids = search.find_ids(tx, cond, search.Page(order, limit, skip))
        return {"count": search.count(tx, cond), "ids": ids}

    result: dict[str, Any] = _searching(label, run)
    return result
