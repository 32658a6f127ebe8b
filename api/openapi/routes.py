"""The OpenAPI entry of every route, by (path, method): its request body and its replies.

Most damas routes parse their body themselves (`api.errors.JsonBody`: free-form documents,
ids, arrays of either), so FastAPI sees no body model and documents a 200 only; these entries
say what each route reads and every status code it answers, with the reply's shape.
"""

from __future__ import annotations

from api.openapi.schemas import (
    COUNT,
    NULL,
    STRING,
    Schema,
    array,
    either,
    json_reply,
    operation,
    partial,
    ref,
)
from reconciler.store.search import MAX_PAGE, MAX_SORT_KEYS

DOC, DOCS, IDS = ref("Document"), array(ref("Document"), min_items=1), ref("Ids")
NEW = either(ref("NewDocument"), array(ref("NewDocument"), min_items=1))
READ = {
    "200": json_reply("the node, or the nodes in request order", either(DOC, DOCS)),
    **partial("some ids were missing", DOC),
}
GRAPH = {
    "200": json_reply("the nodes, then the sources found, then the edges", array(DOC)),
    **partial("some requested ids were missing", DOC),
}
LOCKED = {
    "200": json_reply("the updated node(s)", either(DOC, array(either(DOC, NULL)))),
    **partial("some ids were missing", DOC),
}
PUBLISHED = {
    "201": json_reply("parents then their history children", array(ref("Created"))),
    **partial("some paths were tracked already", ref("Created")),
}
TOKEN = json_reply("a token", STRING)
PAGE = {**COUNT, "maximum": MAX_PAGE}
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
    ("/api/create/", "post"): operation(
        {
            "201": json_reply(
                "the id(s), or the node(s)", either(ref("Created"), array(ref("Created")))
            ),
            **partial("some ids existed already", ref("Created")),
        },
        ("403", "409"),
        body=NEW,
    ),
    ("/api/read/{ids}", "get"): operation(READ, ("404",)),
    ("/api/read/", "post"): operation(READ, ("404",), body=IDS),
    ("/api/update/", "put"): operation(
        {
            "200": json_reply(
                "the updated node(s); the string null echoes a null entry",
                either(DOC, {"const": "null"}, array(either(DOC, STRING, NULL))),
            ),
            **partial("some ids were missing", either(DOC, STRING)),
        },
        ("403", "404"),
        body=either(ref("Change"), array(either(ref("Change"), {"const": "null"}), min_items=1)),
    ),
    ("/api/upsert/", "post"): operation(
        {
            "200": json_reply(
                "created ids (or nodes), then updated nodes",
                either(ref("Created"), array(either(ref("Created"), NULL))),
            )
        },
        ("403",),
        body=NEW,
    ),
    ("/api/delete/", "delete"): operation(
        {
            "200": json_reply("the id(s) deleted", IDS),
            **partial("some ids were missing", ref("Id")),
        },
        ("403", "404"),
        body=IDS,
    ),
    ("/api/graph/{depth}/{ids}", "get"): operation(GRAPH, ("404",)),
    ("/api/graph/{depth}/", "post"): operation(GRAPH, ("404",), body=IDS),
    ("/api/search/{query}", "get"): operation(
        {"200": json_reply("matching ids", array(ref("Id")))}
    ),
    ("/api/search_one/{query}", "get"): operation(
        {"200": json_reply("the first matching node, or null", either(DOC, NULL))}
    ),
    ("/api/search_mongo/", "post"): operation(
        {
            "200": json_reply(
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
                "sort": {
                    "type": "object",
                    "maxProperties": MAX_SORT_KEYS,
                    "additionalProperties": {"enum": [1, -1]},
                },
                "limit": PAGE,
                "skip": PAGE,
                "queryobj": {"type": "string", "description": "the query as a JSON string"},
            },
            "additionalProperties": False,
        },
        required=False,
    ),
    ("/api/publish/", "post"): operation(
        PUBLISHED,
        ("403", "409"),
        body=either(ref("Publish"), array(ref("Publish"), min_items=1)),
    ),
    ("/api/comment/", "post"): operation(
        {
            "201": json_reply("the comment ids (or nodes)", array(ref("Created"))),
            **partial("some parents were missing", ref("Created")),
        },
        ("403", "404"),
        body={
            "type": "object",
            "required": ["#parent", "comment"],
            "properties": {"#parent": IDS, "comment": {"type": "string", "minLength": 1}},
            "additionalProperties": True,
        },
    ),
    ("/api/lock/", "put"): operation(LOCKED, ("403", "404", "409"), body=IDS),
    ("/api/unlock/", "put"): operation(LOCKED, ("403", "404", "409"), body=IDS),
    ("/api/version/{node_id}", "post"): operation(
        {"201": json_reply("the new head node", DOC)},
        ("403", "404"),
        body={
            "type": "object",
            "required": ["file"],
            "properties": {"file": STRING},
            "additionalProperties": True,
        },
    ),
    ("/api/signIn", "post"): operation(
        {"200": json_reply("the user and a token", ref("SignedIn"))},
        ("401", "429"),
        body=ref("SignIn"),
        form=True,
        signed_in=False,
    ),
    ("/api/verify", "get"): operation({"200": json_reply("the caller's user node", DOC)}),
    ("/api/createToken", "post"): operation(
        {"200": TOKEN},
        ("403",),
        body={"type": "object", "properties": {"expiresIn": either(STRING, {"type": "number"})}},
        required=False,
        form=True,
    ),
    ("/api/changePassword/", "post"): operation(
        {"200": json_reply("the user and a new token", ref("SignedIn"))},
        ("403", "429"),
        body={
            "type": "object",
            "required": ["password", "newPassword"],
            "properties": {"password": STRING, "newPassword": {"type": "string", "minLength": 1}},
        },
    ),
    ("/healthz", "get"): operation(
        {
            "200": json_reply(
                "the store answers",
                {
                    "type": "object",
                    "required": ["status", "store"],
                    "properties": {"status": {"const": "ok"}, "store": STRING, "version": STRING},
                },
            )
        },
        signed_in=False,
    ),
    ("/api/declarative/apply", "post"): operation(
        {
            "200": json_reply(
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
    ("/api/declarative/diff", "post"): operation(
        {
            "200": json_reply(
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
    ("/api/declarative/objects/{kind}", "get"): operation(
        {"200": json_reply("the live objects as manifests", array(ref("Manifest")))}, ("403", "404")
    ),
    ("/api/declarative/objects/{kind}/{name}", "get"): operation(
        {"200": json_reply("the object as a manifest", ref("Manifest"))}, ("403", "404")
    ),
    ("/api/declarative/objects/{kind}/{name}", "delete"): operation(
        {"200": json_reply("the object deleted", ref("Outcome"))}, ("403", "404")
    ),
    ("/api/status", "get"): operation(
        {"200": json_reply("the hub then each volume", array(ref("SiteStatus")))}
    ),
    ("/api/workers", "get"): operation(
        {
            "200": json_reply(
                "the reconciler workers on this store",
                array(
                    {
                        "type": "object",
                        "required": ["worker", "host", "pid", "started", "heartbeat", "alive"],
                        "properties": {
                            "worker": STRING,
                            "host": STRING,
                            "pid": {"type": "integer"},
                            "started": {"type": "integer"},
                            "heartbeat": {"type": "integer"},
                            "jobs": array(STRING),
                            "leases": COUNT,
                            "alive": {"type": "boolean"},
                        },
                    }
                ),
            )
        }
    ),
    ("/api/describe/{path}", "get"): operation(
        {"200": json_reply("the file on every site", ref("FileDescription"))}, ("404",)
    ),
    ("/api/explain/{path}", "get"): operation(
        {"200": json_reply("why the file is (not) on each site", array(ref("Explanation")))},
        ("404",),
    ),
    ("/api/listup/{src}/{tgt}/{n}", "get"): operation(
        {"200": json_reply("the emission queue in order", array(ref("QueueEntry")))}, ("404",)
    ),
    ("/api/listdown/{src}/{tgt}/{n}", "get"): operation(
        {"200": json_reply("the reception queue in order", array(ref("QueueEntry")))}, ("404",)
    ),
    ("/api/web/files", "get"): operation(
        {
            "200": json_reply(
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
    ("/api/web/file", "get"): operation(
        {"200": json_reply("a file's keys, cells and history", {"type": "object"})}, ("404",)
    ),
    ("/api/web/sites", "get"): operation(
        {
            "200": json_reply(
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
