"""The file x site grid of the web page: one page of files, one cell per site.

Paging is keyset paging over indexed columns (architecture.md#performance: it must stay fast at
1,000,000 files): by time on `nodes (kind, time, id)`, by path on the primary key, by priority on
the hub's `file_sites` rows `(site, priority, time, file_id)`. The cells of a page come from the
`file_sites` rows and documents of just that page's ids. An optional search filter (a clause over
`nodes`, from the tracker's search grammar) narrows the files, and so does "errors only" (a
`syncError_<site>` on some site, through the partial index `ix_fs_failed` of the rows whose last
attempt failed). The queries are the store's (`reconciler.store.grid`); this module pages, checks
cursors and shapes the rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from api.web.cells import cell
from reconciler.core.config import SyncConfig
from reconciler.core.desired import file_priority
from reconciler.core.domain import as_number
from reconciler.store import Doc, Tx
from reconciler.store import grid as rows
from reconciler.store.query import Expr

MAX_LIMIT = 500


class SortKey(StrEnum):
    TIME = "time"  # newest first
    PRIORITY = "priority"  # highest first, then newest
    PATH = "path"  # alphabetical


class BadCursor(ValueError):
    """A paging cursor that this server did not hand out."""


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, sort: SortKey) -> tuple[Any, ...]:
    """The key of the last row of the previous page; BadCursor if it does not fit `sort`."""
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise BadCursor("cursor: not a cursor returned by this server") from exc
    shapes = {SortKey.TIME: (int, str), SortKey.PATH: (str,), SortKey.PRIORITY: (int, int, str)}
    shape = shapes[sort]
    if (
        not isinstance(values, list)
        or len(values) != len(shape)
        or any(
            isinstance(v, bool) or not isinstance(v, t) for v, t in zip(values, shape, strict=True)
        )
    ):
        raise BadCursor(f"cursor: does not belong to sort={sort.value}")
    if not all(map(_bindable, values)):  # a forged cursor must be a 400, not a driver error
        raise BadCursor("cursor: not a cursor returned by this server")
    return tuple(values)


def _bindable(value: object) -> bool:
    """Both stores can bind it: a 64-bit integer, a string without lone surrogate or NUL."""
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    return True


@dataclass(frozen=True)
class GridPage:
    sort: SortKey  # the order actually used (priority needs a hub: else time)
    sites: list[dict[str, Any]]
    files: list[dict[str, Any]]
    next: str | None


def sites_of(cfg: SyncConfig) -> list[dict[str, Any]]:
    """The grid's columns: the hub first, then the volumes by name."""
    out: list[dict[str, Any]] = []
    if cfg.hub is not None:
        out.append({"name": cfg.hub.name, "hub": True, "enabled": True})
    for name in sorted(cfg.volumes):
        out.append({"name": name, "hub": False, "enabled": cfg.volumes[name].enabled})
    return out


def file_rows(tx: Tx, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The grid rows of `ids` (in that order): file keys and one cell per site."""
    cfg = tx.config()
    docs = tx.get_many(list(ids))
    wanted = rows.wanted_of(tx, ids)
    return [
        file_row(
            doc, cfg, {s: wanted[(doc["_id"], s)] for s in cfg.sites if (doc["_id"], s) in wanted}
        )
        for doc in docs
        if doc is not None
    ]


def file_row(doc: Doc, cfg: SyncConfig, wanted: dict[str, bool]) -> dict[str, Any]:
    size = as_number(doc.get("file_size"))
    return {
        "id": doc["_id"],
        "time": as_number(doc.get("time")),
        "priority": file_priority(doc, cfg),
        "origin": doc.get("origin"),
        "size": int(size) if size is not None else None,
        "author": doc.get("author"),
        "comment": doc.get("comment"),
        "lock": doc.get("lock"),
        "deleted": doc.get("deleted") is True,
        "cells": {s: cell(doc, s, wanted=wanted.get(s)).as_json() for s in cfg.sites},
    }


def grid_page(
    tx: Tx,
    *,
    sort: SortKey,
    limit: int,
    cursor: str | None = None,
    where: Expr | None = None,
) -> GridPage:
    """One page of the grid; `next` is the cursor of the following page (None at the end)."""
    cfg = tx.config()
    hub = cfg.hub_name
    if sort is SortKey.PRIORITY and hub is None:
        sort = SortKey.TIME  # without a hub there are no rows to order priorities by
    after = decode_cursor(cursor, sort) if cursor else None
    limit = max(1, min(limit, MAX_LIMIT))
    if sort is SortKey.PRIORITY and hub is not None:
        keys = rows.keys_by_priority(tx, hub, where, after, limit + 1)
    elif sort is SortKey.PATH:
        keys = rows.keys_by_path(tx, where, after, limit + 1)
    else:
        keys = rows.keys_by_time(tx, where, after, limit + 1)
    more = len(keys) > limit
    keys = keys[:limit]
    ids = [str(k[-1]) for k in keys]
    return GridPage(
        sort=sort,
        sites=sites_of(cfg),
        files=file_rows(tx, ids),
        next=encode_cursor(keys[-1]) if more and keys else None,
    )
