"""Decide what a scan changes in the tracker: listed entries vs tracked state (pure).

Purely computational: `compare` merges two streams sorted by `_id` (the volume's listing
and the tracker's files) and yields `Action`s; `decide_present` / `decide_gone` judge one
file; `changes` turns an action into the keys to write. No I/O, no clock (`now` and
`started` come in the context), so the same functions re-check each action against a fresh
document inside the write transaction.

Rules (architecture.md#the-loop "Scan"):
- untracked file -> PUBLISH (origin here, `scanned at <site>`), unless `ignoreExistingFiles`
  and the file is older than the volume's first scan;
- copy of the current version (origin here, or `synced_<site>` >= `time`) whose size or mtime
  (whole seconds) differ -> MODIFY (`enableDiscoveryUpdatedFiles`); a delivered copy keeps
  size and mtime, so it is never a modification;
- a copy here that matches the current version but was not recorded -> HOLD (`synced_`); on
  the first scan with `ignoreExistingFiles` so is a copy whose version the tracker cannot
  tell (no `file_size`/`file_mtime` yet);
- gone from its origin -> DELETE; a recorded copy gone elsewhere -> LOSE (its `synced_` key
  is removed) (`enableDiscoveryDeletedFiles`); a deleted file back at its origin -> RESTORE;
- anything whose tracker state changed after the listing started, or that is being
  transferred here (`syncing_`), is left for the next scan: the listing may predate it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.core.domain import (
    attempts_key,
    error_key,
    last_attempt_key,
    modified_key,
    synced_key,
)
from reconciler.jobs.scan.listing import EntryKind, Listed
from reconciler.jobs.scan.tracked import Tracked

SCAN_AUTHOR = "support"


class ActionKind(StrEnum):
    PUBLISH = "publish"
    MODIFY = "modify"
    HOLD = "hold"
    RESTORE = "restore"
    DELETE = "delete"
    LOSE = "lose"


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    id: str
    entry: Listed | None  # the listed file (None for DELETE / LOSE)


@dataclass(frozen=True)
class ScanContext:
    volume: str
    now: int  # ms, written as `time`, `synced_<site>`, `modified_<site>`
    started: int  # ms, when the listing started
    discover_updated: bool = True
    discover_deleted: bool = True
    ignore_before: int | None = None  # ignoreExistingFiles: untracked files older are skipped
    hold_existing: bool = False  # first scan with ignoreExistingFiles: tracked files -> HOLD
    in_scope: Callable[[str], bool] = lambda _id: True


class OrderError(RuntimeError):
    """An input stream is not in strictly increasing `_id` order (a merge would lie)."""


def same_copy(entry: Listed, tracked: Tracked) -> bool:
    """Same size and same mtime in whole seconds as the tracker's current version."""
    if tracked.size is None or tracked.mtime is None:
        return False
    return entry.size == tracked.size and entry.mtime_ms // 1000 == tracked.mtime // 1000


def decide_present(entry: Listed, tracked: Tracked | None, ctx: ScanContext) -> ActionKind | None:
    """A file listed on the volume; `tracked` is its tracker state, if any."""
    if entry.kind is EntryKind.MEMBER:
        return None
    if tracked is None:
        if ctx.ignore_before is not None and entry.mtime_ms < ctx.ignore_before:
            return None
        return ActionKind.PUBLISH
    if tracked.syncing:
        return None
    here = tracked.origin == ctx.volume
    same = same_copy(entry, tracked)
    current = here or (tracked.synced is not None and tracked.synced >= tracked.time)
    stamp = tracked.time if here else (tracked.synced or 0)
    if tracked.deleted:
        if here and tracked.time < ctx.started:
            if same:
                return ActionKind.RESTORE
            return ActionKind.MODIFY if ctx.discover_updated else None
        if not here and current and not same and stamp < ctx.started and ctx.discover_updated:
            return ActionKind.MODIFY if tracked.size is not None else None
        return None
    if not current:
        # ignoreExistingFiles trusts a copy found at the first scan when the tracker cannot
        # tell its version; a copy known to differ is left for reception to replace (with
        # a backup in trash): counting it as synced would hide the right version from this
        # volume, and the next scan would even take it for a modification
        unknown = tracked.size is None or tracked.mtime is None
        if same or (ctx.hold_existing and unknown and tracked.time < ctx.started):
            return ActionKind.HOLD
        return None
    if same or tracked.size is None or tracked.mtime is None or stamp >= ctx.started:
        return None
    return ActionKind.MODIFY if ctx.discover_updated else None


def decide_gone(tracked: Tracked, ctx: ScanContext) -> ActionKind | None:
    """A tracked file that the listing does not hold."""
    if not ctx.discover_deleted or tracked.syncing or not ctx.in_scope(tracked.id):
        return None
    if tracked.origin == ctx.volume and not tracked.deleted:
        return ActionKind.DELETE if tracked.time < ctx.started else None
    if tracked.synced is not None and tracked.synced < ctx.started:
        return ActionKind.LOSE
    return None


def _unchanged(entry: Listed, tracked: Tracked, volume: str) -> bool:
    """The common case of a rescan, decided inline: a current copy here, not deleted nor
    being transferred, with the same size and mtime (whole seconds). `decide_present`
    returns None for it too (a test pins the equivalence); this saves its call per file."""
    return (
        entry.size == tracked.size
        and not tracked.syncing
        and not tracked.deleted
        and tracked.mtime is not None
        and entry.mtime_ms // 1000 == tracked.mtime // 1000
        and (
            tracked.origin == volume
            or (tracked.synced is not None and tracked.synced >= tracked.time)
        )
    )


def compare(
    listed: Iterable[Listed], tracked: Iterable[Tracked], ctx: ScanContext
) -> Iterator[Action]:
    """Merge the two sorted streams; yield one action per file that changes."""
    tracked_iter = iter(tracked)
    last_tracked = ""

    def next_tracked() -> Tracked | None:
        nonlocal last_tracked
        item = next(tracked_iter, None)
        if item is not None:
            if item.id <= last_tracked:
                raise OrderError(f"tracker files out of order at {item.id!r}")
            last_tracked = item.id
        return item

    current = next_tracked()
    last_listed = ""
    volume = ctx.volume
    for entry in listed:
        if entry.id <= last_listed:
            raise OrderError(f"listing out of order at {entry.id!r}")
        last_listed = entry.id
        while current is not None and current.id < entry.id:
            gone = decide_gone(current, ctx)
            if gone is not None:
                yield Action(gone, current.id, None)
            current = next_tracked()
        match = current if current is not None and current.id == entry.id else None
        if match is not None:
            current = next_tracked()
            if _unchanged(entry, match, volume):
                continue
        kind = decide_present(entry, match, ctx)
        if kind is not None:
            yield Action(kind, entry.id, entry)
    while current is not None:
        gone = decide_gone(current, ctx)
        if gone is not None:
            yield Action(gone, current.id, None)
        current = next_tracked()


def redecide(action: Action, tracked: Tracked | None, ctx: ScanContext) -> ActionKind | None:
    """The same decision against fresh tracker state (inside the write transaction)."""
    if action.entry is not None:
        return decide_present(action.entry, tracked, ctx)
    return decide_gone(tracked, ctx) if tracked is not None else None


def new_document(entry: Listed, ctx: ScanContext) -> dict[str, Any]:
    site = ctx.volume
    return {
        "_id": entry.id,
        "origin": site,
        "comment": f"scanned at {site}",
        "author": SCAN_AUTHOR,
        "time": ctx.now,
        "file_mtime": entry.mtime_ms,
        "file_size": entry.size,
        synced_key(site): ctx.now,
    }


def changes(kind: ActionKind, entry: Listed | None, ctx: ScanContext) -> dict[str, Any]:
    """Keys to set on an existing document (None deletes the key)."""
    site = ctx.volume
    clear_errors: dict[str, Any] = {
        error_key(site): None, last_attempt_key(site): None, attempts_key(site): None,
    }  # fmt: skip
    if kind is ActionKind.MODIFY and entry is not None:
        return {
            "time": ctx.now,
            "origin": site,
            "file_mtime": entry.mtime_ms,
            "file_size": entry.size,
            modified_key(site): ctx.now,
            "comment": f"modified at {site}",
            synced_key(site): ctx.now,
            "deleted": None,
            **clear_errors,
        }
    if kind is ActionKind.HOLD:
        return {synced_key(site): ctx.now, **clear_errors}
    if kind is ActionKind.RESTORE:
        return {"deleted": None, synced_key(site): ctx.now}
    if kind is ActionKind.DELETE:
        return {"deleted": True, synced_key(site): None}
    if kind is ActionKind.LOSE:
        return {synced_key(site): None}
    raise ValueError(f"no changes for {kind} on an existing document")
