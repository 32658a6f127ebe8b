"""Configuration objects of the tracker (global parameters, hub, volumes, sync targets).

The keys, their types and defaults are the models of `reconciler.core.kinds` (the one
place). Tracker documents hold what was applied or written through the API;
`SyncConfig.from_docs` reads them into those typed, frozen models (`volume.url`,
`cfg.globals.lease_seconds`), which the planner and the reconciler read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from reconciler.core import kinds
from reconciler.core.kinds import GlobalParameters
from reconciler.core.patterns import Glob, any_match, parse_rules


class HubConfig(kinds.Hub):
    """The hub as the reconciler reads it: its typed keys and its site name."""

    name: str = Field("", exclude=True)  # the object's name, not a key

    @classmethod
    def of(cls, name: str, doc: Mapping[str, Any]) -> HubConfig:
        return cls.from_stored(doc).model_copy(update={"name": name})


class VolumeConfig(kinds.Volume):
    """A volume as the reconciler reads it: its typed keys and its site name."""

    name: str = Field("", exclude=True)  # the object's name, not a key

    @classmethod
    def of(cls, name: str, doc: Mapping[str, Any]) -> VolumeConfig:
        return cls.from_stored(doc).model_copy(update={"name": name})


@dataclass(frozen=True)
class SyncTarget:
    name: str
    paths: tuple[Glob, ...]
    exclude: tuple[Glob, ...]
    sites: frozenset[str]
    everywhere: bool
    exclude_sites: frozenset[str]
    priority: int

    def matches(self, file_id: str) -> bool:
        return any_match(self.paths, file_id) and not any_match(self.exclude, file_id)

    @classmethod
    def from_doc(cls, name: str, doc: Mapping[str, Any]) -> SyncTarget:
        v = kinds.SyncTarget.from_stored(doc)
        return cls(
            name=name,
            paths=parse_rules(v.paths),
            exclude=parse_rules(v.exclude),
            sites=frozenset(v.sites),
            everywhere=v.everywhere,
            exclude_sites=frozenset(v.exclude_sites),
            priority=v.priority,
        )


@dataclass(frozen=True)
class SyncConfig:
    """Everything the desired-state rules need, read from the tracker in one go."""

    globals: GlobalParameters = field(default_factory=GlobalParameters)
    hub: HubConfig | None = None
    volumes: Mapping[str, VolumeConfig] = field(default_factory=dict)
    targets: tuple[SyncTarget, ...] = ()
    fingerprint: str = ""

    @property
    def hub_name(self) -> str | None:
        return self.hub.name if self.hub else None

    @property
    def sites(self) -> tuple[str, ...]:
        """The hub then every volume: the sites that get per-file state rows."""
        names = list(self.volumes)
        return (self.hub.name, *names) if self.hub else tuple(names)

    @classmethod
    def from_docs(cls, docs: Iterable[Mapping[str, Any]]) -> SyncConfig:
        """Typed objects from the stored documents (status keys ignored), and the
        fingerprint: the ids and the `desired` keys of the models (`reconciler.core.kinds`),
        so only a change the desired-state rules can see re-derives the file rows."""
        glob = GlobalParameters()
        hub: HubConfig | None = None
        volumes: dict[str, VolumeConfig] = {}
        targets: list[SyncTarget] = []
        relevant: list[Mapping[str, Any]] = []
        for doc in sorted(docs, key=lambda d: str(d["_id"])):
            node_id = str(doc["_id"])
            found = kinds.kind_of_id(node_id)
            if found is None or found[0].kind is kinds.Kind.USER:
                continue
            info, name = found
            typed: kinds.KindModel
            if info.kind is kinds.Kind.GLOBAL:
                typed = glob = GlobalParameters.from_stored(doc)
            elif info.kind is kinds.Kind.HUB:
                typed = hub = HubConfig.of(name, doc)
            elif info.kind is kinds.Kind.VOLUME:
                typed = volumes[name] = VolumeConfig.of(name, doc)
            else:
                typed = info.model.from_stored(doc)
                targets.append(SyncTarget.from_doc(name, doc))
            relevant.append({"_id": node_id, **desired_values(info, typed)})
        digest = hashlib.sha256(
            json.dumps(relevant, sort_keys=True, default=str).encode()
        ).hexdigest()
        return cls(
            globals=glob,
            hub=hub,
            volumes=volumes,
            targets=tuple(targets),
            fingerprint=digest,
        )


def desired_values(info: kinds.KindInfo, typed: kinds.KindModel) -> dict[str, Any]:
    """The keys of one object that its fingerprint covers (the model's `desired` flag)."""
    values = typed.model_dump(mode="json", by_alias=True)
    return {k: values[k] for k in info.desired}
