"""Declarative operations on a store: apply, diff, get and delete configuration objects.

The I/O half of `reconciler.services.declarative`: read the live objects and the ownership records
(`applied` table) in one transaction, let the pure planner decide, then write through
`Tx.put_many` / `Tx.delete_many` (so the store re-derives its work queues) in that same
transaction. `spctl --db` and the tracker's declarative routes both call these functions,
which is why both modes print the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.core.config import SyncConfig
from reconciler.core.domain import VOLUME_PREFIX, NodeKind
from reconciler.core.kinds import Kind, KindInfo, kind_of_id
from reconciler.core.passwords import Passwords
from reconciler.services.declarative import (
    Action,
    Change,
    Doc,
    diff_text,
    live_objects,
    plan,
)
from reconciler.services.manifests import Manifest, ManifestError
from reconciler.store import Store, Tx, applied, files

if TYPE_CHECKING:  # imported by diff_impact: `spctl get` starts without it
    from reconciler.services.impact import Impact


@dataclass(frozen=True)
class Outcome:
    """One object's result, as printed by apply and sent over HTTP."""

    ref: str
    action: Action
    diff: str = ""

    def line(self, dry_run: bool) -> str:
        return f"{self.ref} {self.action.value}" + (" (dry run)" if dry_run else "")


def _owned(tx: Tx) -> set[str]:
    return applied.owned(tx)


def _live(tx: Tx, manifests: Sequence[Manifest], owned: set[str]) -> dict[str, Doc]:
    """Every configuration object, plus the users the tree names or apply owns."""
    live = {str(d["_id"]): d for d in tx.iter_docs(NodeKind.CONFIG)}
    users = sorted(
        {m.doc_id for m in manifests if m.kind is Kind.USER}
        | {i for i in owned if (found := kind_of_id(i)) and found[0].kind is Kind.USER}
    )
    for doc in tx.get_many(users):
        if doc is not None:
            live[str(doc["_id"])] = doc
    return live


def _plan(
    tx: Tx,
    manifests: Sequence[Manifest],
    *,
    prune: bool,
    now: int,
    author: str,
    passwords: Passwords | None,
) -> tuple[list[Change], set[str], frozenset[str]]:
    owned = _owned(tx)
    live = _live(tx, manifests, owned)
    result = plan(
        manifests,
        live,
        owned,
        prune=prune,
        now=now,
        author=author,
        passwords=passwords or Passwords(),
    )
    return list(result.changes), owned, result.owned


def apply(
    store: Store,
    manifests: Sequence[Manifest],
    *,
    dry_run: bool,
    prune: bool,
    now: int,
    author: str,
    passwords: Passwords | None = None,
) -> list[Outcome]:
    """Apply the tree in one transaction (or only plan it on a dry run)."""
    if prune and not manifests:
        # an empty or mistyped directory must not wipe the production's configuration
        raise ManifestError(["no manifests found: refusing to --prune every applied object"])
    if dry_run:
        with store.read() as tx:
            changes, _, _ = _plan(
                tx, manifests, prune=prune, now=now, author=author, passwords=passwords
            )
        return [Outcome(c.ref, c.action) for c in changes]
    with store.write() as tx:
        _serialize(tx, manifests)
        changes, owned, owned_after = _plan(
            tx, manifests, prune=prune, now=now, author=author, passwords=passwords
        )
        gone = [c.doc_id for c in changes if c.action is Action.PRUNED]
        writes = [c.after for c in changes if c.after is not None]
        if gone:
            tx.delete_many(gone)
        if writes:
            tx.put_many(writes)
        _record_ownership(tx, owned, owned_after, now)
    return [Outcome(c.ref, c.action) for c in changes]


def _serialize(tx: Tx, manifests: Sequence[Manifest]) -> None:
    """PostgreSQL: one apply at a time, and no concurrent write lost on the rows it rewrites.

    SQLite needs nothing: write transactions start with BEGIN IMMEDIATE. On PostgreSQL two
    applies would otherwise both plan `created` for the same object, and a status key the
    reconciler writes between our read and our write of a volume would be overwritten.
    """
    applied.lock_for_apply(tx, [m.doc_id for m in manifests if m.kind is Kind.USER])


def _record_ownership(tx: Tx, before: set[str], after: frozenset[str], now: int) -> None:
    """Own what this apply declared; forget pruned ids and objects deleted elsewhere."""
    dropped = sorted(before - after)
    added = sorted(after - before)
    applied.disown(tx, dropped)
    applied.own(tx, added, now)


def diff(
    store: Store,
    manifests: Sequence[Manifest],
    *,
    prune: bool,
    now: int,
    passwords: Passwords | None = None,
) -> list[Outcome]:
    """The objects apply would change, each with its unified YAML diff."""
    with store.read() as tx:
        changes, _, _ = _plan(tx, manifests, prune=prune, now=now, author="", passwords=passwords)
    return [
        Outcome(c.ref, c.action, diff_text(c)) for c in changes if c.action is not Action.UNCHANGED
    ]


def diff_impact(
    store: Store,
    manifests: Sequence[Manifest],
    *,
    prune: bool,
    now: int,
    passwords: Passwords | None = None,
) -> tuple[list[Outcome], Impact]:
    """`diff`, and what applying the tree would change in what each site receives.

    One read transaction: the live configuration, the one apply would write, and the files
    whose rows can differ between the two (`impact.scope`), streamed from the store.
    """
    from reconciler.services.impact import ImpactCounter, scope, throughput

    with store.read() as tx:
        changes, _, _ = _plan(tx, manifests, prune=prune, now=now, author="", passwords=passwords)
        live = {str(d["_id"]): d for d in tx.iter_docs(NodeKind.CONFIG)}
        for c in changes:
            if c.action is Action.PRUNED:
                live.pop(c.doc_id, None)
            elif c.after is not None:
                live[c.doc_id] = c.after
        old, new = tx.config(), SyncConfig.from_docs(live.values())
        counter = ImpactCounter(old, new)
        where = scope(old, new)
        if not where.empty:
            keep = where.keeps if where.targets else None
            counter.add_all(files.iter_file_docs(tx, where.prefixes, keep))
        rates = {
            name: rate for name in old.volumes if (rate := throughput(tx.get(VOLUME_PREFIX + name)))
        }
    outcomes = [
        Outcome(c.ref, c.action, diff_text(c)) for c in changes if c.action is not Action.UNCHANGED
    ]
    return outcomes, counter.impact(rates)


def get(store: Store, info: KindInfo, name: str | None = None) -> list[Doc]:
    """Live objects of one kind rendered as manifests (with a read-only status)."""
    with store.read() as tx:
        return live_objects(tx, info, name)


def delete(store: Store, info: KindInfo, name: str) -> bool:
    """Delete one object (and its ownership record); False when it does not exist."""
    if not info.name_re.match(name):
        return False
    doc_id = info.doc_id(name)
    with store.write() as tx:
        applied.disown(tx, [doc_id])
        return tx.delete(doc_id)
