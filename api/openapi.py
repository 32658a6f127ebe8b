"""The OpenAPI document: the bodies the routes read raw, and every reply each route gives.

Most damas routes parse their body themselves (free-form documents, ids, arrays of either:
`api.errors.JsonBody`), so FastAPI knows no schema for them and documents only a 200. This
module holds, per (path, method), the JSON Schema of the request body and the status codes
the route answers with the shape of each reply; `install(app)` merges them into
`app.openapi()`. Error replies are plain text, as `api.errors` sends them. Routes added
without an entry here keep FastAPI's description plus the error replies every route can give.
The fuzz test (`tests/api/test_fuzz.py`) holds the running server to this document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from reconciler.explain import Explanation
from reconciler.status import FileDescription, QueueEntry, SiteStatus

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"


def ref(name: str) -> Schema:
    return {"$ref": REF.format(model=name)}


def array(items: Schema, *, min_items: int = 0) -> Schema:
    return {"type": "array", "items": items, **({"minItems": min_items} if min_items else {})}


def either(*schemas: Schema) -> Schema:
    return {"anyOf": list(schemas)}


NULL: Schema = {"type": "null"}
STRING: Schema = {"type": "string"}
COUNT: Schema = {"type": "integer", "minimum": 0}
SCALAR: Schema = {"type": ["string", "number", "boolean", "null"]}

# ---- shared schemas (components) ---------------------------------------------------------

COMPONENTS: dict[str, Schema] = {
    "Id": {"type": "string", "minLength": 1, "description": "a node `_id` (file ids start /)"},
    "Ids": either(ref("Id"), array(ref("Id"), min_items=1)),
    "Document": {
        "type": "object",
        "description": "a damas node: any keys; user nodes never show their password hash",
        "required": ["_id"],
        "properties": {"_id": ref("Id")},
        "additionalProperties": True,
    },
    "NewDocument": {
        "type": "object",
        "description": "`_id` missing or null: generated; an array of ids: one node per id",
        "properties": {"_id": either(ref("Id"), array(ref("Id"), min_items=1), NULL)},
        "additionalProperties": True,
    },
    "Change": {
        "type": "object",
        "description": "the keys to set on an existing node; a null value removes the key",
        "required": ["_id"],
        "minProperties": 2,
        "properties": {"_id": either(ref("Id"), array(ref("Id"), min_items=1))},
        "additionalProperties": True,
    },
    "Publish": {
        "type": "object",
        "required": ["_id", "origin", "comment"],
        "properties": {
            "_id": {"type": "string", "pattern": "^/"},
            "origin": {"type": "string", "description": "the site that holds the file"},
            "comment": STRING,
        },
        "additionalProperties": True,
    },
    "Created": either(ref("Id"), ref("Document")),  # ids, or nodes with createReturnsObj
    "MongoFilter": {
        "type": "object",
        "description": "a MongoDB filter; strings `REGEX_<pattern>` and `RX_<p>_RX<flags>` "
        "are regexes",
        "properties": {
            op: array(ref("MongoFilter"), min_items=1) for op in ("$or", "$and", "$nor")
        },
        "additionalProperties": either(SCALAR, ref("MongoCondition")),
    },
    "MongoCondition": {
        "type": "object",
        "properties": {
            **{op: SCALAR for op in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")},
            "$in": array(SCALAR),
            "$nin": array(SCALAR),
            "$exists": {"type": "boolean"},
            "$regex": STRING,
            "$options": {"type": "string", "pattern": "^[imsx]*$"},
            "$not": ref("MongoCondition"),
        },
        "additionalProperties": False,
    },
    "SignIn": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": {"type": "string", "description": "a user name or an e-mail address"},
            "password": STRING,
            "expiresIn": either(STRING, {"type": "number"}),
        },
        "additionalProperties": False,
    },
    "SignedIn": {
        "type": "object",
        "required": ["_id", "user", "token"],
        "properties": {"_id": ref("Id"), "user": ref("Document"), "token": STRING},
    },
    "Manifest": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata"],
        "properties": {
            "apiVersion": {"type": "string", "enum": ["syncplanet.io/v1"]},
            "kind": {"enum": ["GlobalParameters", "Hub", "Volume", "User", "SyncTarget"]},
            "metadata": {"type": "object", "required": ["name"], "properties": {"name": STRING}},
            "spec": {"type": "object"},
        },
    },
    "Outcome": {
        "type": "object",
        "required": ["object", "action"],
        "properties": {"object": STRING, "action": STRING, "diff": STRING},
    },
}


def _dataclass_schemas() -> dict[str, Schema]:
    """The observability replies, from the dataclasses `reconciler.status.to_json` renders."""
    out: dict[str, Schema] = {}
    for cls in (SiteStatus, FileDescription, QueueEntry, Explanation):
        schema = TypeAdapter(cls).json_schema(ref_template=REF, mode="serialization")
        out.update(schema.pop("$defs", {}))
        out[cls.__name__] = schema
    return out


# ---- replies -----------------------------------------------------------------------------


def _json(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _text(description: str, *, retry: bool = False) -> Schema:
    reply: Schema = {"description": description, "content": {"text/plain": {"schema": STRING}}}
    if retry:
        reply["headers"] = {"Retry-After": {"required": True, "schema": {"type": "integer"}}}
    return reply


ERRORS: dict[str, Schema] = {
    "400": _text("Bad request: the message names the field or the problem"),
    "401": _text("no valid token (Bearer or session cookie), or wrong credentials at signIn"),
    "403": _text("Forbidden: the caller's class is too low for this route or object"),
    "404": _text("Not found: none of the named nodes or objects exist"),
    "409": _text("Conflict: the id exists already, or the file is locked by someone else"),
    "413": _text("Payload too large: the body or a document is over its limit"),
    "429": _text("Too many failed sign-ins for this account or address", retry=True),
    "503": _text("The store is busy: a statement ran over its time limit", retry=True),
}
# Replies any route that reads the store may give; the others are listed per route.
COMMON = ("400", "503")
BODY = ("413",)
SIGNED_IN = ("401",)


def _route(
    ok: Mapping[str, Schema],
    errors: tuple[str, ...] = (),
    *,
    body: Schema | None = None,
    required: bool = True,
    form: bool = False,
    signed_in: bool = True,
) -> Schema:
    """One operation: its request body (JSON, or also a form) and its replies."""
    codes = (*COMMON, *(SIGNED_IN if signed_in else ()), *(BODY if body else ()), *errors)
    operation: Schema = {"responses": {**ok, **{c: ERRORS[c] for c in sorted(set(codes))}}}
    if body is not None:
        content = {"application/json": {"schema": body}}
        if form:
            content["application/x-www-form-urlencoded"] = {"schema": body}
        operation["requestBody"] = {"required": required, "content": content}
    if not signed_in:
        operation["security"] = []
    return operation


def _some(description: str, items: Schema) -> dict[str, Schema]:
    """207: an array with null where an id was missing (or not the caller's)."""
    return {"207": _json(description, array(either(items, NULL)))}


DOC, DOCS, IDS = ref("Document"), array(ref("Document"), min_items=1), ref("Ids")
NEW = either(ref("NewDocument"), array(ref("NewDocument"), min_items=1))
READ = {
    "200": _json("the node, or the nodes in request order", either(DOC, DOCS)),
    **_some("some ids were missing", DOC),
}
GRAPH = {
    "200": _json("the nodes, then the sources found, then the edges", array(DOC)),
    **_some("some requested ids were missing", DOC),
}
LOCKED = {
    "200": _json("the updated node(s)", either(DOC, array(either(DOC, NULL)))),
    **_some("some ids were missing", DOC),
}
PUBLISHED = {
    "201": _json("parents then their history children", array(ref("Created"))),
    **_some("some paths were tracked already", ref("Created")),
}
TOKEN = _json("a token", STRING)
DECLARATIVE = {
    "type": "object",
    "required": ["manifests"],
    "properties": {
        "manifests": array(ref("Manifest")),
        "sources": array(STRING),
        "env": {"type": "object", "additionalProperties": STRING},
        "dryRun": {"type": "boolean"},
        "prune": {"type": "boolean"},
    },
}

ROUTES: dict[tuple[str, str], Schema] = {
    ("/api/create/", "post"): _route(
        {
            "201": _json(
                "the id(s), or the node(s)", either(ref("Created"), array(ref("Created")))
            ),
            **_some("some ids existed already", ref("Created")),
        },
        ("403", "409"),
        body=NEW,
    ),
    ("/api/read/{ids}", "get"): _route(READ, ("404",)),
    ("/api/read/", "post"): _route(READ, ("404",), body=IDS),
    ("/api/update/", "put"): _route(
        {
            "200": _json(
                "the updated node(s); the string null echoes a null entry",
                either(DOC, {"const": "null"}, array(either(DOC, STRING, NULL))),
            ),
            **_some("some ids were missing", either(DOC, STRING)),
        },
        ("403", "404"),
        body=either(ref("Change"), array(either(ref("Change"), {"const": "null"}), min_items=1)),
    ),
    ("/api/upsert/", "post"): _route(
        {
            "200": _json(
                "created ids (or nodes), then updated nodes",
                either(ref("Created"), array(either(ref("Created"), NULL))),
            )
        },
        ("403",),
        body=NEW,
    ),
    ("/api/delete/", "delete"): _route(
        {"200": _json("the id(s) deleted", IDS), **_some("some ids were missing", ref("Id"))},
        ("403", "404"),
        body=IDS,
    ),
    ("/api/graph/{depth}/{ids}", "get"): _route(GRAPH, ("404",)),
    ("/api/graph/{depth}/", "post"): _route(GRAPH, ("404",), body=IDS),
    ("/api/search/{query}", "get"): _route({"200": _json("matching ids", array(ref("Id")))}),
    ("/api/search_one/{query}", "get"): _route(
        {"200": _json("the first matching node, or null", either(DOC, NULL))}
    ),
    ("/api/search_mongo/", "post"): _route(
        {
            "200": _json(
                "the total count (ignoring skip and limit) and one page of ids",
                {
                    "type": "object",
                    "required": ["count", "ids"],
                    "properties": {"count": COUNT, "ids": array(ref("Id"))},
                },
            )
        },
        body={
            "type": "object",
            "properties": {
                "query": ref("MongoFilter"),
                "sort": {"type": "object", "additionalProperties": {"enum": [1, -1]}},
                "limit": COUNT,
                "skip": COUNT,
                "queryobj": {"type": "string", "description": "the query as a JSON string"},
            },
            "additionalProperties": False,
        },
        required=False,
    ),
    ("/api/publish/", "post"): _route(
        PUBLISHED,
        ("403", "409"),
        body=either(ref("Publish"), array(ref("Publish"), min_items=1)),
    ),
    ("/api/comment/", "post"): _route(
        {
            "201": _json("the comment ids (or nodes)", array(ref("Created"))),
            **_some("some parents were missing", ref("Created")),
        },
        ("403", "404"),
        body={
            "type": "object",
            "required": ["#parent", "comment"],
            "properties": {"#parent": IDS, "comment": {"type": "string", "minLength": 1}},
            "additionalProperties": True,
        },
    ),
    ("/api/lock/", "put"): _route(LOCKED, ("403", "404", "409"), body=IDS),
    ("/api/unlock/", "put"): _route(LOCKED, ("403", "404", "409"), body=IDS),
    ("/api/version/{node_id}", "post"): _route(
        {"201": _json("the new head node", DOC)},
        ("403", "404"),
        body={
            "type": "object",
            "required": ["file"],
            "properties": {"file": STRING},
            "additionalProperties": True,
        },
    ),
    ("/api/signIn", "post"): _route(
        {"200": _json("the user and a token", ref("SignedIn"))},
        ("401", "429"),
        body=ref("SignIn"),
        form=True,
        signed_in=False,
    ),
    ("/api/verify", "get"): _route({"200": _json("the caller's user node", DOC)}),
    ("/api/createToken", "post"): _route(
        {"200": TOKEN},
        ("403",),
        body={"type": "object", "properties": {"expiresIn": either(STRING, {"type": "number"})}},
        required=False,
    ),
    ("/api/changePassword/", "post"): _route(
        {"200": _json("the user and a new token", ref("SignedIn"))},
        ("403", "429"),
        body={
            "type": "object",
            "required": ["password", "newPassword"],
            "properties": {"password": STRING, "newPassword": {"type": "string", "minLength": 1}},
        },
    ),
    ("/healthz", "get"): _route(
        {
            "200": _json(
                "the store answers",
                {
                    "type": "object",
                    "required": ["status", "store"],
                    "properties": {"status": {"const": "ok"}, "store": STRING},
                },
            )
        },
        signed_in=False,
    ),
    ("/api/declarative/apply", "post"): _route(
        {
            "200": _json(
                "what was (or would be) done to each object",
                {
                    "type": "object",
                    "required": ["dryRun", "results"],
                    "properties": {"dryRun": {"type": "boolean"}, "results": array(ref("Outcome"))},
                },
            )
        },
        ("403",),
        body=DECLARATIVE,
    ),
    ("/api/declarative/diff", "post"): _route(
        {
            "200": _json(
                "the objects apply would change, with their diffs",
                {
                    "type": "object",
                    "required": ["results"],
                    "properties": {"results": array(ref("Outcome"))},
                },
            )
        },
        ("403",),
        body=DECLARATIVE,
    ),
    ("/api/declarative/objects/{kind}", "get"): _route(
        {"200": _json("the live objects as manifests", array(ref("Manifest")))}, ("403", "404")
    ),
    ("/api/declarative/objects/{kind}/{name}", "get"): _route(
        {"200": _json("the object as a manifest", ref("Manifest"))}, ("403", "404")
    ),
    ("/api/declarative/objects/{kind}/{name}", "delete"): _route(
        {"200": _json("the object deleted", ref("Outcome"))}, ("403", "404")
    ),
    ("/api/status", "get"): _route(
        {"200": _json("the hub then each volume", array(ref("SiteStatus")))}
    ),
    ("/api/describe/{path}", "get"): _route(
        {"200": _json("the file on every site", ref("FileDescription"))}, ("404",)
    ),
    ("/api/explain/{path}", "get"): _route(
        {"200": _json("why the file is (not) on each site", array(ref("Explanation")))},
        ("404",),
    ),
    ("/api/listup/{src}/{tgt}/{n}", "get"): _route(
        {"200": _json("the emission queue in order", array(ref("QueueEntry")))}, ("404",)
    ),
    ("/api/listdown/{src}/{tgt}/{n}", "get"): _route(
        {"200": _json("the reception queue in order", array(ref("QueueEntry")))}, ("404",)
    ),
    ("/api/web/files", "get"): _route(
        {
            "200": _json(
                "one page of the file x site grid",
                {
                    "type": "object",
                    "required": ["sort", "sites", "files", "next", "now"],
                    "properties": {
                        "sort": {"enum": ["time", "priority", "path"]},
                        "sites": array({"type": "object"}),
                        "files": array({"type": "object"}),
                        "next": either(STRING, NULL),
                        "now": COUNT,
                    },
                },
            )
        }
    ),
    ("/api/web/file", "get"): _route(
        {"200": _json("a file's keys, cells and history", {"type": "object"})}, ("404",)
    ),
    ("/api/web/sites", "get"): _route(
        {
            "200": _json(
                "the hub and volumes",
                {
                    "type": "object",
                    "required": ["sites", "now"],
                    "properties": {"sites": array({"type": "object"}), "now": COUNT},
                },
            )
        }
    ),
}


# ---- merging -----------------------------------------------------------------------------


def _merge(operation: Schema, described: Schema | None) -> None:
    """Replace FastAPI's replies (its 422 never happens: `api.errors` answers 400)."""
    if described is None:
        responses = operation.get("responses", {})
        responses.pop("422", None)
        for code in ("400", "401", "403", "404", "413", "503"):
            responses.setdefault(code, ERRORS[code])
        return
    operation.update(described)


def document(app: FastAPI) -> Schema:
    """FastAPI's document with the bodies and replies of `ROUTES` merged in."""
    spec = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            _merge(operation, ROUTES.get((path, method)))
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # only FastAPI's 422 used them
        schemas.pop(name, None)
    schemas.update({**COMPONENTS, **_dataclass_schemas()})
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
