"""Impact of a configuration change on data movement (`spctl diff --impact`, issue 17).

Purely computational: `ImpactCounter` is fed the tracked file documents and evaluates each
one with `reconciler.core.desired.site_rows` (the code that derives the store's work queues)
under the live and the new configuration; `scope` says which files can change at all, so
the store reads only those. Per site it counts the files (and bytes) that:
- become pending: newly wanted there and not up to date there (to be sent);
- stop being wanted (no longer delivered; copies there are never deleted);
- stay pending with another priority (move up or down the site's queue).

Documents that only differ in keys `site_rows` does not read, or in `file_size` and in
`time` / `synced_<site>` values that compare the same way, get the same rows but for id and
size, so `site_rows` runs once per such shape (`tests/impact` checks this against a
document-by-document evaluation).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.config import SyncConfig, SyncTarget
from reconciler.core.desired import SiteRow, file_size, site_rows
from reconciler.core.domain import RECEIVED_BYTES_KEY, RECEPTION_SECONDS_KEY, sync_key, synced_key
from reconciler.core.patterns import any_matcher, literal_prefix


@dataclass(frozen=True)
class Amount:
    files: int = 0
    bytes: int = 0

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.files + other.files, self.bytes + other.bytes)

    def json(self) -> dict[str, int]:
        return {"files": self.files, "bytes": self.bytes}


@dataclass(frozen=True)
class SiteImpact:
    site: str
    newly_wanted: Amount = Amount()
    no_longer_wanted: Amount = Amount()
    priority_up: Amount = Amount()
    priority_down: Amount = Amount()
    throughput: float | None = None  # measured bytes/s of receptions, when known

    @property
    def priority_changes(self) -> Amount:
        return self.priority_up + self.priority_down

    @property
    def eta_seconds(self) -> float | None:
        if not self.newly_wanted.bytes:
            return 0.0 if self.newly_wanted.files else None
        return self.newly_wanted.bytes / self.throughput if self.throughput else None

    @property
    def changed(self) -> bool:
        return bool(
            self.newly_wanted.files or self.no_longer_wanted.files or self.priority_changes.files
        )

    def json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "newlyWanted": self.newly_wanted.json(),
            "noLongerWanted": self.no_longer_wanted.json(),
            "priorityChanges": {
                **self.priority_changes.json(),
                "up": self.priority_up.json(),
                "down": self.priority_down.json(),
            },
            "throughputBytesPerSecond": self.throughput,
            "etaSeconds": self.eta_seconds,
        }


@dataclass(frozen=True)
class Impact:
    sites: tuple[SiteImpact, ...] = ()  # the affected sites only, in configuration order
    evaluated: int = 0  # file documents read and evaluated

    def over(self, max_bytes: int | None) -> list[str]:
        """Sites that would receive more than `max_bytes`."""
        if max_bytes is None:
            return []
        return [s.site for s in self.sites if s.newly_wanted.bytes > max_bytes]

    def json(self, max_bytes: int | None = None) -> dict[str, Any]:
        return {
            "sites": [s.json() for s in self.sites],
            "evaluatedFiles": self.evaluated,
            "maxBytes": max_bytes,
            "overMaxBytes": self.over(max_bytes),
        }


def impact_from_json(data: Mapping[str, Any]) -> Impact:
    """The inverse of `Impact.json` (what `spctl --server` receives)."""

    def amount(value: Mapping[str, Any]) -> Amount:
        return Amount(int(value["files"]), int(value["bytes"]))

    sites = tuple(
        SiteImpact(
            site=str(s["site"]),
            newly_wanted=amount(s["newlyWanted"]),
            no_longer_wanted=amount(s["noLongerWanted"]),
            priority_up=amount(s["priorityChanges"]["up"]),
            priority_down=amount(s["priorityChanges"]["down"]),
            throughput=s.get("throughputBytesPerSecond"),
        )
        for s in data["sites"]
    )
    return Impact(sites, int(data.get("evaluatedFiles", 0)))


# ---- which files can change -------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The files whose rows can differ between two configurations.

    `prefixes` bound their ids (`("",)`: every file); `targets`, when not empty, are the
    SyncTargets added, removed or changed: a file none of them matches (old or new
    version) is matched by the same unchanged ones under both configurations.
    """

    prefixes: tuple[str, ...] = ()
    targets: tuple[SyncTarget, ...] = ()
    _paths: Callable[[str], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One regex for every path of every changed target: `exclude` is left out, so a few
        # more files than needed may be evaluated (they come out unchanged), never fewer.
        object.__setattr__(self, "_paths", any_matcher(g for t in self.targets for g in t.paths))

    @property
    def empty(self) -> bool:
        return not self.prefixes

    def keeps(self, file_id: str) -> bool:
        return not self.targets or self._paths(file_id)


def _rules_inputs(cfg: SyncConfig) -> tuple[Any, ...]:
    """What `site_rows` reads from the configuration, SyncTargets aside."""
    return (
        cfg.hub_name,
        cfg.globals.sync_everywhere,
        tuple((name, v.receives, v.propagate_deletions) for name, v in cfg.volumes.items()),
    )


def scope(old: SyncConfig, new: SyncConfig) -> Scope:
    """The files to evaluate for a change from `old` to `new`."""
    if _rules_inputs(old) != _rules_inputs(new):
        return Scope(prefixes=("",))
    changed = tuple(set(old.targets) ^ set(new.targets))
    if not changed:
        return Scope()
    prefixes = tuple(literal_prefix(g) for t in changed for g in t.paths)
    return Scope(prefixes=prefixes, targets=changed)


# ---- counting -------------------------------------------------------------------------------


_Effect = tuple[tuple[str, int], ...]  # (site, what) pairs: see `_NEW` ... `_DOWN`
_NEW, _GONE, _UP, _DOWN = range(4)
_NUMBERS = (int, float)  # what the rules take as a number (JSON gives no other; not bool)


def _number(value: object) -> int | float | None:
    kind = type(value)
    return value if kind is int or kind is float else None  # type: ignore[return-value]


@dataclass
class ImpactCounter:
    """Feed it documents (`add`), then read the `Impact`."""

    old: SyncConfig
    new: SyncConfig
    _sites: tuple[str, ...] = field(init=False)
    _keys: tuple[str, ...] = field(init=False)
    _synced: tuple[str, ...] = field(init=False)
    _targets: tuple[tuple[tuple[str, ...] | None, SyncTarget], ...] = field(init=False)
    _effects: dict[Any, _Effect] = field(init=False, default_factory=dict)
    _totals: dict[_Effect, list[int]] = field(init=False, default_factory=dict)
    evaluated: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._sites = tuple(dict.fromkeys((*self.old.sites, *self.new.sites)))
        own = ("origin", "deleted", "syncEverywhere", "sync_priority")
        self._keys = (*own, *(sync_key(s) for s in self._sites))
        self._synced = tuple(synced_key(s) for s in self._sites)
        targets = dict.fromkeys((*self.old.targets, *self.new.targets))
        # an id outside every literal prefix of a target's paths skips its regexes
        self._targets = tuple((_prefixes(t), t) for t in targets)

    def _shape(self, doc: Mapping[str, Any]) -> Any:
        """Equal for documents `site_rows` derives the same wanted/pending/priority from."""
        get = doc.get
        time = int(_number(get("time")) or 0)
        own = tuple(map(get, self._keys))
        held = tuple(
            [
                None if v is None else type(v) in _NUMBERS and v >= time
                for v in map(get, self._synced)
            ]
        )
        file_id = str(doc["_id"])
        matched = tuple(
            [(p is None or file_id.startswith(p)) and t.matches(file_id) for p, t in self._targets]
        )
        # types too: `true` and `1` are equal keys but not equal to the rules
        return own, tuple(map(type, own)), held, matched

    def _effect(self, doc: Mapping[str, Any]) -> _Effect:
        before = {r.site: r for r in site_rows(doc, self.old)}
        after = {r.site: r for r in site_rows(doc, self.new)}
        out: list[tuple[str, int]] = []
        for site in self._sites:
            was, now = before.get(site), after.get(site)
            if now is not None and now.pending and not (was is not None and was.pending):
                out.append((site, _NEW))
            if was is not None and was.wanted and not (now is not None and now.wanted):
                out.append((site, _GONE))
            if _pending(was) and _pending(now):
                assert was is not None and now is not None
                if now.priority != was.priority:
                    out.append((site, _UP if now.priority > was.priority else _DOWN))
        return tuple(out)

    def add(self, doc: Mapping[str, Any]) -> None:
        self.evaluated += 1
        try:
            shape = self._shape(doc)
            effect = self._effects.get(shape)
        except TypeError:  # a list or an object among the keys: no sharing for this one
            shape = effect = None
        if effect is None:
            effect = self._effect(doc)
            if shape is not None:
                self._effects[shape] = effect
        if effect:
            total = self._totals.setdefault(effect, [0, 0])
            total[0] += 1
            total[1] += file_size(doc)  # what the rows hold

    def add_all(self, docs: Iterable[Mapping[str, Any]]) -> None:
        for doc in docs:
            self.add(doc)

    def impact(self, throughput: Mapping[str, float] | None = None) -> Impact:
        tally: dict[str, list[Amount]] = {s: [Amount()] * 4 for s in self._sites}
        for effect, (files, size) in self._totals.items():
            for site, what in effect:
                tally[site][what] += Amount(files, size)
        rates = throughput or {}
        sites = (
            SiteImpact(site, *_four(tally[site]), throughput=rates.get(site))
            for site in self._sites
        )
        return Impact(tuple(s for s in sites if s.changed), self.evaluated)


def _prefixes(target: SyncTarget) -> tuple[str, ...] | None:
    """The literal prefixes of a target's paths; None when one of them has none."""
    prefixes = tuple(literal_prefix(g) for g in target.paths)
    return None if "" in prefixes else prefixes


def _four(amounts: list[Amount]) -> tuple[Amount, Amount, Amount, Amount]:
    new, gone, up, down = amounts
    return new, gone, up, down


def _pending(row: SiteRow | None) -> bool:
    return row is not None and row.pending


def throughput(volume: Mapping[str, Any] | None) -> float | None:
    """Bytes/s of a volume's receptions so far (`planning.volume_status` sums them)."""
    if volume is None:
        return None
    sent = _number(volume.get(RECEIVED_BYTES_KEY))
    seconds = _number(volume.get(RECEPTION_SECONDS_KEY))
    return sent / seconds if sent and seconds and sent > 0 and seconds > 0 else None


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)(i?B?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """`500G`, `1.2T`, `800MiB`, `123456` -> bytes (K, M, G, T, P are powers of 1024)."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"invalid size {text!r}: use bytes or a number with K, M, G, T or P")
    number, unit = float(match.group(1)), match.group(2).upper()
    return int(number * 1024 ** " KMGTP".index(unit or " "))
