"""Configuration objects of the tracker (global parameters, hub, volumes, sync targets).

This module is the one place where the defaults of every configuration key are written
(`GLOBAL_DEFAULTS`, `HUB_DEFAULTS`, `VOLUME_DEFAULTS`, `SYNCTARGET_DEFAULTS`). Tracker
documents hold what was applied or written through the API; `SyncConfig.from_docs` overlays
them on the defaults and gives the frozen values the planner and the reconciler read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.domain import CONFIG_GLOBAL_ID, HUB_PREFIX, SYNCTARGET_PREFIX, VOLUME_PREFIX
from reconciler.core.patterns import Glob, any_match, parse_rules

# Keys are named as in the original API document; the extensions are documented in README.
GLOBAL_DEFAULTS: dict[str, Any] = {
    "enableScans": True,
    "sleepBetweenScans": 60,
    "includePatternRules": "",
    "excludePatternRules": "",
    "excludedFiles": "",
    "ignoreExistingFiles": False,
    "packagePatternRules": "",
    "rsaPublicKey": "",
    "syncEverywhere": True,
    "rsync_args": "",
    "rsync_env": "",
    "retryBackoffBase": 30,  # seconds; doubles per failed attempt of one (file, site)
    "retryBackoffMax": 3600,  # seconds; cap of the per-file and per-volume backoff
    "trashMaxAgeDays": 30,  # trash under .syncplanet/trash older than this is purged
    "leaseSeconds": 30,  # a worker's claim on a batch; renewed by its heartbeat while it runs
    "heartbeatSeconds": 10,  # a worker renews its row and leases this often (< leaseSeconds)
    # concurrent rsync runs per batch and leg: over a long link one SSH stream is capped by
    # its channel window (about window / RTT), each stream has its own (issue 15)
    "parallelStreams": 4,
    "smtpHost": "",
    "smtpPort": 25,
    "smtpFrom": "syncplanet@localhost",
    "smtpUser": "",
    "smtpPasswordFromEnv": "",
    "smtpAllowPlaintext": False,  # a login over SMTP without TLS (trusted local link only)
    "notifyMinIntervalSeconds": 900,
    # a scan that would mark more files deleted than this, or than this percentage of the
    # volume's tracked files, marks none and waits for `spctl scan V --confirm-deletions`
    "maxDeletionsPerScan": 1000,
    "maxDeletionsPercent": 10,
}

HUB_DEFAULTS: dict[str, Any] = {
    "url": None,  # required
    "identityFile": "",
    "knownHosts": "",
    "rsync_args": "",
    "rsync_env": "",
}

VOLUME_DEFAULTS: dict[str, Any] = {
    "url": None,  # required
    "enabled": True,
    "enableDiscovery": False,
    "enableDiscoveryPackages": False,
    "enableDiscoveryUpdatedFiles": True,
    "enableDiscoveryDeletedFiles": True,
    "enableEmission": True,
    "enableReception": True,
    "propagateDeletions": False,
    "syncAmountEmission": 1000,
    "syncAmountReception": 1000,
    "syncBytesEmission": 4 * 1024**3,  # a batch also stops at this many bytes
    "syncBytesReception": 4 * 1024**3,
    "parallelStreams": -1,  # -1: the global value
    "rsync_args": "",
    "rsync_env": "",
    "notifiedEmails": "",
    "maxDeletionsPerScan": -1,  # -1: the global value
    "maxDeletionsPercent": -1,
}

SYNCTARGET_DEFAULTS: dict[str, Any] = {
    "paths": None,  # required
    "exclude": [],
    "sites": [],
    "everywhere": False,
    "excludeSites": [],
    "priority": 0,
}

# User objects (`@<name>`); the password is never a default: a new User needs one.
USER_DEFAULTS: dict[str, Any] = {
    "class": "user",
    "email": "",
    "fullname": "",
}


def with_defaults(defaults: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    merged.update({k: v for k, v in doc.items() if v is not None})
    return merged


@dataclass(frozen=True)
class GlobalParameters:
    values: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def sync_everywhere(self) -> bool:
        return bool(self.values["syncEverywhere"])


@dataclass(frozen=True)
class HubConfig:
    name: str
    values: Mapping[str, Any]

    @property
    def url(self) -> str:
        return str(self.values["url"])


@dataclass(frozen=True)
class VolumeConfig:
    name: str
    values: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def url(self) -> str:
        return str(self.values["url"])

    @property
    def enabled(self) -> bool:
        return bool(self.values["enabled"])

    @property
    def receives(self) -> bool:
        return self.enabled and bool(self.values["enableReception"])

    @property
    def emits(self) -> bool:
        return self.enabled and bool(self.values["enableEmission"])


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
        v = with_defaults(SYNCTARGET_DEFAULTS, doc)
        return cls(
            name=name,
            paths=parse_rules(v["paths"] or []),
            exclude=parse_rules(v["exclude"] or []),
            sites=frozenset(v["sites"] or []),
            everywhere=bool(v["everywhere"]),
            exclude_sites=frozenset(v["excludeSites"] or []),
            priority=int(v["priority"] or 0),
        )


@dataclass(frozen=True)
class SyncConfig:
    """Everything the desired-state rules need, read from the tracker in one go."""

    globals: GlobalParameters = field(default_factory=lambda: GlobalParameters(GLOBAL_DEFAULTS))
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
        glob: dict[str, Any] = dict(GLOBAL_DEFAULTS)
        hub: HubConfig | None = None
        volumes: dict[str, VolumeConfig] = {}
        targets: list[SyncTarget] = []
        relevant: list[Mapping[str, Any]] = []
        for doc in sorted(docs, key=lambda d: str(d["_id"])):
            node_id = str(doc["_id"])
            if node_id == CONFIG_GLOBAL_ID:
                glob = with_defaults(GLOBAL_DEFAULTS, doc)
            elif node_id.startswith(HUB_PREFIX):
                hub = HubConfig(node_id[len(HUB_PREFIX) :], with_defaults(HUB_DEFAULTS, doc))
            elif node_id.startswith(VOLUME_PREFIX):
                name = node_id[len(VOLUME_PREFIX) :]
                volumes[name] = VolumeConfig(name, with_defaults(VOLUME_DEFAULTS, doc))
            elif node_id.startswith(SYNCTARGET_PREFIX):
                targets.append(SyncTarget.from_doc(node_id[len(SYNCTARGET_PREFIX) :], doc))
            else:
                continue
            relevant.append({k: v for k, v in doc.items() if k not in _VOLATILE_KEYS})
        digest = hashlib.sha256(
            json.dumps(relevant, sort_keys=True, default=str).encode()
        ).hexdigest()
        return cls(
            globals=GlobalParameters(glob),
            hub=hub,
            volumes=volumes,
            targets=tuple(targets),
            fingerprint=digest,
        )


# Status keys written by the reconciler on config objects; they do not change desired state.
_VOLATILE_KEYS = frozenset(
    {
        "time",
        "author",
        "agentStatus",
        "agentStartTime",
        "agentVersion",
        "lastConnectionAttempt",
        "lastConnectionSuccess",
        "lastConnectionStatusChange",
        "last_emission",
        "last_reception",
        "last_scan",
        "exit_emission",
        "exit_reception",
        "exit_scan",
        "stderr_emission",
        "stderr_reception",
        "stderr_scan",
        "scan_duration",
        "bytes_reception",
        "seconds_reception",
        "error",
        "downSince",
        "nextConnectionAttempt",
        "connectionFailures",
        "scannedOnce",
        "volumeId",
        "mountError",
        "deletionsHeld",
        "deletionsHeldReason",
        "notifiedState",
        "lastNotification",
        "notifyError",
        "notifyIntent",
        "rsync_args",
        "rsync_env",
        "notifiedEmails",
        "syncAmountEmission",
        "syncAmountReception",
        "syncBytesEmission",
        "syncBytesReception",
        "parallelStreams",
        "sleepBetweenScans",
    }
)
