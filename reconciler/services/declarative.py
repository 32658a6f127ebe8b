"""Declarative planning: desired manifests vs live tracker objects -> per-object actions.

Purely computational: `plan()` takes validated manifests, the live documents, the ids that
apply owns, `now` and a password checker, and returns what to write; nothing here reads
or writes the store (see `reconciler.services.applier`). The same module renders live objects as
manifests (`get -o yaml|json`) and changes as unified YAML diffs (`spctl diff`), both
through `effective_spec`, so what `get` shows is exactly what `apply` compares.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import yaml

from reconciler.core.domain import NodeKind
from reconciler.core.kinds import Kind, KindInfo, kind_of_id
from reconciler.core.manifest_schema import API_VERSION
from reconciler.core.passwords import Passwords
from reconciler.services.manifests import Manifest, ManifestError, check_references

Doc = dict[str, Any]


class Action(StrEnum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    PRUNED = "pruned"


@dataclass(frozen=True)
class Change:
    ref: str  # `volume/paris`
    doc_id: str
    action: Action
    before: Doc | None  # the live document (None when created)
    after: Doc | None  # the document to store (None when unchanged or pruned)
    password_changed: bool = False


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    owned: frozenset[str]  # ids apply owns once this plan is carried out

    @property
    def writes(self) -> list[Doc]:
        return [c.after for c in self.changes if c.after is not None]


# ---- shapes ---------------------------------------------------------------------------


def identity(info: KindInfo, name: str) -> Doc:
    """The keys that make a document the object `info`/`name`
    (architecture.md#declarative-configuration: each carries name)."""
    doc: Doc = {"_id": info.doc_id(name), "name": name}
    if info.kind is Kind.USER:
        doc["username"] = name  # damas-core signs users in by `username`
    return doc


def effective_spec(info: KindInfo, values: Mapping[str, Any]) -> Doc:
    """Every stored spec key of the kind: the value in `values` as it is, else the default
    (the kind's model). Not converted: what `get` shows is what the store holds."""
    return {
        key: values[key] if values.get(key) is not None else default
        for key, default in info.defaults.items()
    }


def _hidden(info: KindInfo) -> set[str]:
    """Identity keys and password material: neither spec nor status."""
    keys = {"_id", "name", *(k for k in info.keys if k not in info.defaults)}
    if info.kind is Kind.USER:
        keys |= {"username", "password"}
    return keys


def render(doc: Mapping[str, Any], *, with_status: bool = True) -> Doc:
    """A live document as a manifest: spec with defaults, other keys under `status`."""
    found = kind_of_id(str(doc["_id"]))
    if found is None:
        raise ValueError(f"{doc['_id']!r} is not a configuration object")
    info, name = found
    out: Doc = {
        "apiVersion": API_VERSION,
        "kind": info.kind.value,
        "metadata": {"name": name},
        "spec": effective_spec(info, doc),
    }
    status = {k: v for k, v in doc.items() if k not in info.defaults and k not in _hidden(info)}
    if with_status and status:
        out["status"] = status
    return out


class DocReader(Protocol):
    """What `live_objects` reads: a store transaction (`Tx`) or `reconciler.store.lite`."""

    def get(self, node_id: str) -> Doc | None: ...

    def iter_docs(self, kind: NodeKind | None = None) -> Iterator[Doc]: ...


def live_objects(reader: DocReader, info: KindInfo, name: str | None = None) -> list[Doc]:
    """Live objects of one kind rendered as manifests (with a read-only status)."""
    if name is not None:
        doc = reader.get(info.doc_id(name)) if info.name_re.match(name) else None
        return [render(doc)] if doc is not None else []
    kind = NodeKind.USER if info.kind is Kind.USER else NodeKind.CONFIG
    return [render(d) for d in reader.iter_docs(kind) if _is(info, str(d["_id"]))]


def _is(info: KindInfo, doc_id: str) -> bool:
    found = kind_of_id(doc_id)
    return found is not None and found[0].kind is info.kind


def to_yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True)


def diff_text(change: Change) -> str:
    """Unified diff of the YAML of one object, live vs manifest (status left out)."""
    before = to_yaml(render(change.before, with_status=False)) if change.before else ""
    after_doc = change.after if change.action is not Action.PRUNED else None
    after = to_yaml(render(after_doc, with_status=False)) if after_doc else ""
    if change.password_changed:
        after += "# password: changed\n"
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"live/{change.ref}",
            tofile=f"manifests/{change.ref}",
        )
    )


# ---- planning -------------------------------------------------------------------------


def _password(
    m: Manifest, live: Mapping[str, Any] | None, passwords: Passwords
) -> tuple[str | None, bool]:
    """(hash to store, changed?) for a User; raises when a new user has no password."""
    stored = live.get("password") if live else None
    stored = stored if isinstance(stored, str) and stored else None
    given = m.spec.get("passwordHash")
    if isinstance(given, str):
        return given, given != stored
    if m.password is not None:
        if stored is not None and passwords.verify(stored, m.password):
            return stored, False
        return passwords.hash(m.password), True
    if stored is None and "passwordFromEnv" not in m.spec:  # set: its variable is unset (diff)
        raise ManifestError(
            [m.problem("spec", "Required value: a new User needs passwordHash or passwordFromEnv")]
        )
    return stored, False


def _change(
    m: Manifest, live: Doc | None, *, now: int, author: str, passwords: Passwords
) -> Change:
    wanted = {**identity(m.info, m.name), **effective_spec(m.info, m.spec)}
    pw_changed = False
    if m.kind is Kind.USER:
        pw, pw_changed = _password(m, live, passwords)
        wanted["password"] = pw
    if live is None:
        return Change(
            m.ref,
            m.doc_id,
            Action.CREATED,
            None,
            {**wanted, "time": now, "author": author},
            pw_changed,
        )
    # Identity keys are written with any change but never cause one: objects made through
    # the API (users from `spctl serve`'s first admin, say) may lack `name`, and what
    # `get -o yaml` shows must apply back unchanged.
    current = {**identity(m.info, m.name), **effective_spec(m.info, live)}
    if m.kind is Kind.USER:
        current["password"] = live.get("password")
    if current == wanted:
        return Change(m.ref, m.doc_id, Action.UNCHANGED, live, None)
    return Change(
        m.ref, m.doc_id, Action.CONFIGURED, live, {**live, **wanted, "time": now}, pw_changed
    )


def plan(
    manifests: Sequence[Manifest],
    live: Mapping[str, Doc],
    owned: Set[str],
    *,
    prune: bool,
    now: int,
    author: str,
    passwords: Passwords,
) -> Plan:
    """What apply does. `live` holds every configuration object and the users concerned.

    Raises ManifestError when the tree does not fit the live objects (a second hub, a
    SyncTarget naming an unknown site, a new user without a password).
    """
    declared = {m.doc_id for m in manifests}
    pruned = sorted(i for i in owned if prune and i in live and i not in declared)
    kept = [i for i in live if i not in declared and i not in pruned]
    check_references(
        manifests,
        live_hubs=_names(kept, Kind.HUB),
        live_volumes=_names(kept, Kind.VOLUME),
        pruned_volumes=_names(pruned, Kind.VOLUME),
    )
    changes = [
        _change(m, live.get(m.doc_id), now=now, author=author, passwords=passwords)
        for m in manifests
    ]
    for doc_id in pruned:
        found = kind_of_id(doc_id)
        ref = found[0].ref(found[1]) if found else doc_id
        changes.append(Change(ref, doc_id, Action.PRUNED, live[doc_id], None))
    still_owned = {i for i in owned if i in live and i not in pruned}
    return Plan(tuple(changes), frozenset(still_owned | declared))


def _names(doc_ids: Sequence[str], kind: Kind) -> list[str]:
    found = (kind_of_id(i) for i in doc_ids)
    return [f[1] for f in found if f is not None and f[0].kind is kind]
