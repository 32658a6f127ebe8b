"""Write a scan's actions to the tracker, in batches, each one write transaction.

Every action is re-decided against the document read inside the transaction (rows locked
on PostgreSQL), because the listing and the streamed tracker state may be older than what
another worker or the API wrote since: an action whose fresh decision differs is dropped.
New files go in through the store's bulk path (`insert_new_files`, which skips ids
published meanwhile); changes are written with `Tx.put_many`. Both keep the derived
work-queue rows in step.
"""

from __future__ import annotations

import pickle
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from reconciler.jobs.scan.compare import (
    Action,
    ActionKind,
    ScanContext,
    changes,
    new_document,
    redecide,
)
from reconciler.jobs.scan.tracked import tracked_from_doc
from reconciler.store import Store, Tx
from reconciler.store.bulk import insert_new_files

BATCH = 5000


def apply_batch(tx: Tx, actions: Sequence[Action], ctx: ScanContext) -> Counter[ActionKind]:
    """Write one batch; return how many actions of each kind were applied."""
    done: Counter[ActionKind] = Counter()
    # a file published since the listing is skipped by the bulk insert (the next scan
    # judges it): no need to read it first
    inserts = [
        new_document(a.entry, ctx)
        for a in actions
        if a.kind is ActionKind.PUBLISH and a.entry is not None
    ]
    if inserts:
        done[ActionKind.PUBLISH] += sum(insert_new_files(tx, inserts))
    others = [a for a in actions if a.kind is not ActionKind.PUBLISH]
    if not others:
        return done
    ids = [a.id for a in others]
    tx.lock(sorted(ids))  # in `_id` order: two writers never wait on each other crosswise
    current = dict(zip(ids, tx.get_many(ids), strict=True))
    updates: list[dict[str, Any]] = []
    for action in others:
        doc = current[action.id]
        if doc is None:
            continue
        if redecide(action, tracked_from_doc(doc, ctx.volume), ctx) is not action.kind:
            continue
        for key, value in changes(action.kind, action.entry, ctx).items():
            if value is None:
                doc.pop(key, None)
            else:
                doc[key] = value
        updates.append(doc)
        done[action.kind] += 1
    if updates:
        tx.put_many(updates)
    return done


def apply_actions(
    store: Store,
    actions: Iterable[Action],
    ctx: ScanContext,
    done: Counter[ActionKind],
    batch: int = BATCH,
) -> None:
    """Write all actions, `batch` per transaction, as they come; count them in `done`."""
    pending: list[Action] = []
    for action in actions:
        pending.append(action)
        if len(pending) >= batch:
            with store.write() as tx:
                done.update(apply_batch(tx, pending, ctx))
            pending = []
    if pending:
        with store.write() as tx:
            done.update(apply_batch(tx, pending, ctx))


class ActionBuffer:
    """Actions held back until the listing is known to be complete, memory bounded.

    A scan that compares while the listing streams in must not write anything before the
    listing command exited 0 (a partial listing would read as deletions). The first `BATCH`
    actions stay in memory; beyond that, full batches are pickled to a temporary file
    (a first scan of a million files buffers a million publishes) and read back in order.
    """

    def __init__(self, batch: int = BATCH) -> None:
        self._batch = batch
        self._pending: list[Action] = []
        self._spill: IO[bytes] | None = None
        self._spilled = 0  # batches written to the spill file

    def append(self, action: Action) -> None:
        self._pending.append(action)
        if len(self._pending) >= self._batch:
            if self._spill is None:
                # closed by close(): the buffer outlives any one block of the caller
                self._spill = tempfile.TemporaryFile(prefix="spctl-scan-")  # noqa: SIM115
            pickle.dump(self._pending, self._spill, protocol=pickle.HIGHEST_PROTOCOL)
            self._spilled += 1
            self._pending = []

    def __len__(self) -> int:
        return self._spilled * self._batch + len(self._pending)

    def __iter__(self) -> Iterator[Action]:
        if self._spill is not None:
            self._spill.seek(0)
            for _ in range(self._spilled):
                yield from pickle.load(self._spill)
        yield from self._pending

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill = None
