"""damas-core's `dam` extension as working operations: publish, comment, lock, unlock, version.

These routes crash in damas-core; architecture.md#tracker-api decide their intended behaviour:
- publish creates the file node (409 if the path is tracked) with `author`, `time` and
  `synced_<origin>` = `time` (the origin holds the file it publishes, so the reconciler only
  has to move it to the hub and the other sites), plus a `#parent` child history node;
- comment adds one child per existing parent, with `author` = caller and `time` = now;
- lock/unlock set/remove `lock` = username (409 when held by someone else; admins may clear
  any existing lock); version copies the node to a child and rewrites the head. The keys the
  tracker owns (`synced_*`, `origin`, `lock`...) survive a version; a user cannot set them
  (nor author/time) in its body, and the reply lists the keys refused (`refusedKeys`).
"""

from __future__ import annotations

from typing import Any

from api.auth import is_user_id, public_doc
from api.deps import UserClass
from api.errors import ApiFailure, bad_request
from api.service import (
    RESTRICTED_KEYS,
    Context,
    Doc,
    Reply,
    check_id,
    check_ids,
    check_sizes,
    client_keys,
    fail,
    gather,
    may_write,
    new_id,
    objects,
    owned,
)
from reconciler.core.domain import SITE_KEY_PREFIXES, SITE_NAME_RE, synced_key
from reconciler.store import Tx
from reconciler.store.lookups import child_count

# Keys the tracker and the reconciler own on a file document (architecture.md#file-keys): a version
# keeps them, and only editors and admins (who may `update` them anyway) set them in its body.
TRACKER_KEYS = frozenset({"origin", "deleted", "sync_priority", "lock"})
TRACKER_PREFIXES = (*SITE_KEY_PREFIXES, "sync_", "modified_")
# Keys `version` sets itself, whoever the caller is.
VERSION_KEYS = frozenset({"#parent", "version"})


def is_tracker_key(key: str) -> bool:
    return key in TRACKER_KEYS or key.startswith(TRACKER_PREFIXES)


def _created(ctx: Context, doc: Doc | None) -> Any:
    if doc is None:
        return None
    return public_doc(doc) if ctx.create_returns_obj else doc["_id"]


def publish(tx: Tx, ctx: Context, body: object) -> Reply:
    label = "Publish"
    docs, _ = objects(label, body)
    parents: list[Doc] = []
    for doc in docs:
        node_id = check_id(label, doc.get("_id"))
        if not node_id.startswith("/"):
            raise bad_request(label, f"_id must be a file path starting with '/': {node_id!r}")
        origin, comment = doc.get("origin"), doc.get("comment")
        if not isinstance(origin, str) or not SITE_NAME_RE.match(origin):
            raise bad_request(label, f"origin must be a site name ({SITE_NAME_RE.pattern})")
        if not isinstance(comment, str):
            raise bad_request(label, "comment must be a string")
        parent = {"author": ctx.user.username, "time": ctx.now, **client_keys(ctx, doc, label)}
        parent[synced_key(origin)] = parent["time"]
        parents.append(parent)
    check_sizes(ctx, label, parents)  # the child history nodes are copies of these
    inserted = tx.insert_many(parents)
    if not any(inserted):
        raise ApiFailure(409, f"{label} error: Conflict (the path is already tracked)")
    children = [
        {**{k: v for k, v in p.items() if k != "_id"}, "#parent": p["_id"], "_id": new_id()}
        for p, ok in zip(parents, inserted, strict=True)
        if ok
    ]
    tx.insert_many(children)
    made = iter(children)
    child_ids = [next(made) if ok else None for ok in inserted]
    results = [_created(ctx, p if ok else None) for p, ok in zip(parents, inserted, strict=True)]
    results += [_created(ctx, c) for c in child_ids]
    return Reply(201 if all(inserted) else 207, results)


def comment(tx: Tx, ctx: Context, body: object) -> Reply:
    label = "Comment"
    if not isinstance(body, dict):
        raise bad_request(label, "expected an object with #parent and comment")
    text, parent_ids = body.get("comment"), body.get("#parent")
    if not isinstance(text, str) or not text:
        raise bad_request(label, "comment must be a non-empty string")
    ids, _ = check_ids(label, parent_ids)
    keys = client_keys(ctx, {k: v for k, v in body.items() if k != "_id"}, label)
    found = tx.existing(ids)
    children = [
        {"author": ctx.user.username, "time": ctx.now, **keys, "#parent": p, "_id": new_id()}
        if p in found
        else None
        for p in ids
    ]
    made = [c for c in children if c is not None]
    check_sizes(ctx, label, made[:1])  # all alike but for #parent and _id
    tx.insert_many(made)
    return fail(label, gather([_created(ctx, c) for c in children], single=False, ok=201))


def _lock_targets(
    tx: Tx, ctx: Context, label: str, body: object
) -> tuple[list[str], list[Doc | None]]:
    """The ids of a lock/unlock request and their documents, locked until the write
    (check-then-set: no concurrent lock sneaks in between)."""
    ids, _ = check_ids(label, body)
    for node_id in ids:
        may_write(ctx, node_id, label)
    return ids, tx.get_many(ids, for_update=True)


def _set_lock(
    tx: Tx, label: str, ids: list[str], docs: list[Doc | None], holder: str | None
) -> Reply:
    updated = tx.patch_many({d["_id"]: {"lock": holder} for d in docs if d})
    results = [public_doc(updated[i]) if i in updated else None for i in ids]
    return fail(label, gather(results, single=True, ok=200))


def lock(tx: Tx, ctx: Context, body: object) -> Reply:
    """Lock for the caller; 409 if any of the files is locked by someone else."""
    label = "Lock"
    ids, docs = _lock_targets(tx, ctx, label, body)
    for doc in docs:
        holder = doc.get("lock") if doc is not None else None
        if holder is not None and holder != ctx.user.username:
            raise ApiFailure(
                409,
                f"{label} error: Conflict ({doc['_id']} is locked by "  # type: ignore[index]
                f"{holder})",
            )
    return _set_lock(tx, label, ids, docs, ctx.user.username)


def unlock(tx: Tx, ctx: Context, body: object) -> Reply:
    """Unlock; 409 if a file is not locked, or locked by someone else (admins excepted)."""
    label = "Unlock"
    ids, docs = _lock_targets(tx, ctx, label, body)
    for doc in docs:
        if doc is None:
            continue
        holder = doc.get("lock")
        if holder is None:
            raise ApiFailure(409, f"{label} error: Conflict ({doc['_id']} is not locked)")
        if holder != ctx.user.username and not ctx.user.is_admin:
            raise ApiFailure(409, f"{label} error: Conflict ({doc['_id']} is locked by {holder})")
    return _set_lock(tx, label, ids, docs, None)


def _stamped(path: object, time: object) -> object:
    """`/d/b.ma` at time 1000 -> `/d/b_1000.ma` (damas-core's naming of the kept version)."""
    if not isinstance(path, str):
        return path
    slash = path.rfind("/")
    dot = path.rfind(".")
    if dot <= slash + 1:
        return f"{path}_{time}"
    return f"{path[:dot]}_{time}{path[dot:]}"


def _version_keys(ctx: Context, body: Doc) -> tuple[Doc, list[str]]:
    """The keys of a version's body the caller may write, and those refused."""
    editor = ctx.user.cls >= UserClass.EDITOR
    allowed: Doc = {}
    refused: list[str] = []
    for key, value in body.items():
        if key == "_id":
            continue
        if (
            key in VERSION_KEYS
            or (key in RESTRICTED_KEYS and not ctx.user.is_admin)
            or (is_tracker_key(key) and not editor)
        ):
            refused.append(key)
        else:
            allowed[key] = value
    return allowed, sorted(refused)


def version(tx: Tx, ctx: Context, node_id: str, body: object) -> Reply:
    """Keep the current document as a child, write the new head: the body's keys over the
    tracker-owned keys of the current one (a new `time` makes the other sites outdated)."""
    label = "Version"
    check_id(label, node_id)
    if not isinstance(body, dict) or not isinstance(body.get("file"), str):
        raise bad_request(label, "the body needs a file key (string)")
    if is_user_id(node_id):  # a kept copy would be an ordinary node holding the hash
        raise bad_request(label, "users are not versioned")
    may_write(ctx, node_id, label)
    current = tx.get(node_id)
    if current is None:
        raise ApiFailure(404, f"{label} error: Not found")
    if not owned(ctx, current):
        raise ApiFailure(403, f"{label} error: Forbidden (authorMode: not the author)")
    child = {k: v for k, v in current.items() if k not in ("_id", "version")}
    child.update(
        {
            "_id": new_id(),
            "#parent": node_id,
            "file": _stamped(current.get("file"), current.get("time")),
        }
    )
    tx.insert(child)
    children = child_count(tx, node_id)
    keys, refused = _version_keys(ctx, body)
    head = {
        "_id": node_id,
        "author": ctx.user.username,
        "time": ctx.now,
        **{k: v for k, v in current.items() if is_tracker_key(k)},
        **keys,
        "version": 1 + int(children or 0),
    }
    check_sizes(ctx, label, [head])
    tx.put(head)
    reply = public_doc(head)
    if refused:
        reply["refusedKeys"] = refused
    return Reply(201, reply)
