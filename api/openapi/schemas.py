"""The building blocks of the OpenAPI document: shared JSON Schemas and reply shapes.

`COMPONENTS` are the schemas routes refer to by name (`ref("Document")`): damas documents
(an `_id` string plus any keys), id lists, MongoDB filters, manifests, and the observability
replies derived from the dataclasses `reconciler.services.status.to_json` renders. `operation(...)`
builds one route's entry: its request body and its replies, errors as plain text with the
status codes `api.errors` sends (`ERRORS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter

from reconciler.core.kinds import Kind
from reconciler.services.explain import Explanation
from reconciler.services.status import FileDescription, QueueEntry, SiteStatus
from reconciler.store.search import MAX_IN_VALUES

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
            "origin": {"type": "string", "pattern": "^[a-z0-9_]{2,32}$", "description": "a site"},
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
            "$in": {**array(SCALAR), "maxItems": MAX_IN_VALUES},
            "$nin": {**array(SCALAR), "maxItems": MAX_IN_VALUES},
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
            "kind": {"enum": [kind.value for kind in Kind]},
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


def dataclass_schemas() -> dict[str, Schema]:
    """The observability replies: the dataclasses `services.status.to_json` renders."""
    out: dict[str, Schema] = {}
    for cls in (SiteStatus, FileDescription, QueueEntry, Explanation):
        schema = TypeAdapter(cls).json_schema(ref_template=REF, mode="serialization")
        out.update(schema.pop("$defs", {}))
        out[cls.__name__] = schema
    return out


# ---- replies -----------------------------------------------------------------------------


def json_reply(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def text_reply(description: str, *, retry: bool = False) -> Schema:
    reply: Schema = {"description": description, "content": {"text/plain": {"schema": STRING}}}
    if retry:
        reply["headers"] = {"Retry-After": {"required": True, "schema": {"type": "integer"}}}
    return reply


ERRORS: dict[str, Schema] = {
    "400": text_reply("Bad request: the message names the field or the problem"),
    "401": text_reply("no valid token (Bearer or session cookie), or wrong credentials at signIn"),
    "403": text_reply("Forbidden: the caller's class is too low for this route or object"),
    "404": text_reply("Not found: no such node, object or route"),
    "409": text_reply("Conflict: the id exists already, or the file is locked by someone else"),
    "413": text_reply("Payload too large: the body or a document is over its limit"),
    "429": text_reply("Too many failed sign-ins for this account or address", retry=True),
    "503": text_reply("The store is busy: a statement ran over its time limit", retry=True),
}
# Replies any route that reads the store may give; the others are listed per route.
COMMON = ("400", "503")
BODY = ("413",)
SIGNED_IN = ("401",)


def operation(
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
    described: Schema = {"responses": {**ok, **{c: ERRORS[c] for c in sorted(set(codes))}}}
    if body is not None:
        content = {"application/json": {"schema": body}}
        if form:
            content["application/x-www-form-urlencoded"] = {"schema": body}
        described["requestBody"] = {"required": required, "content": content}
    if not signed_in:
        described["security"] = []
    return described


def partial(description: str, items: Schema) -> dict[str, Schema]:
    """207: an array with null where an id was missing (or not the caller's)."""
    return {"207": json_reply(description, array(either(items, NULL)))}
