"""The registry of kinds: every kind has columns, documented keys, validation, and a
fingerprint that only its desired-state keys change.

The round trip of every kind through the store and `spctl get -o yaml` is in
`test_kinds_round_trip.py`; the status writers run for real in
`tests/reconciler/test_fingerprint.py`.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.config import SyncConfig
from reconciler.core.domain import Direction
from reconciler.core.kinds import KINDS, Kind, KindInfo, kind_of_id
from reconciler.core.planning import volume_status
from reconciler.jobs.markers import ERROR_KEY, ID_KEY
from reconciler.jobs.scan.guard import HELD_KEY, REASON_KEY
from reconciler.services.manifests import RawDocument, parse_document
from tests.manifests.helpers import ENV, VARIABLES

# A valid spec of each kind with only its required keys (a legacy md5 hex for the user).
MINIMAL: dict[Kind, dict[str, Any]] = {
    Kind.GLOBAL: {},
    Kind.HUB: {"url": "/srv/hub/"},
    Kind.VOLUME: {"url": "/srv/paris/"},
    Kind.USER: {"passwordHash": "0" * 32},
    Kind.SYNCTARGET: {"paths": ["/renders/**"]},
}
NAMES = {Kind.GLOBAL: "rsyncGlobalParameters", Kind.USER: "alice"}


def _name(kind: Kind) -> str:
    return NAMES.get(kind, "paris" if kind is not Kind.SYNCTARGET else "renders")


def test_every_registered_kind_has_a_case_here() -> None:
    assert set(MINIMAL) == set(KINDS)


@pytest.mark.parametrize("info", KINDS.values(), ids=lambda i: i.kind.value)
def test_every_kind_has_columns_and_a_description_for_every_key(info: KindInfo) -> None:
    assert info.columns, info.kind
    for column in (*info.columns, *info.wide):
        assert column.status or column.key in info.defaults, column
    for key in info.keys:
        assert (info.field(key).description or "").strip(), key


def _bad(info: KindInfo, key: str) -> Any:
    """A value of the wrong type for `key`."""
    annotation = info.field(key).annotation
    if annotation is bool:
        return "yes"
    if annotation is int:
        return "12"
    return 12  # a string or a list: a number is neither


def _problems(kind: Kind, spec: dict[str, Any]) -> list[str]:
    body = {
        "apiVersion": "syncplanet.io/v1",
        "kind": kind.value,
        "metadata": {"name": _name(kind)},
        "spec": spec,
    }
    parsed = parse_document(RawDocument("k.yaml", "document 1", body), env=ENV, variables=VARIABLES)
    return parsed if isinstance(parsed, list) else []


@pytest.mark.parametrize(
    ("kind", "key"), [(info.kind, k) for info in KINDS.values() for k in info.keys]
)
def test_a_bad_value_for_every_key_fails_naming_file_object_and_field(kind: Kind, key: str) -> None:
    assert _problems(kind, MINIMAL[kind]) == []
    problems = _problems(kind, {**MINIMAL[kind], key: _bad(KINDS[kind], key)})
    assert problems, key
    assert problems[0].startswith(f'k.yaml: {kind.value} "{_name(kind)}" is invalid: spec.{key}:')


def test_snake_case_attribute_names_are_not_manifest_keys() -> None:
    [problem] = _problems(Kind.VOLUME, {"url": "/srv/p/", "sync_amount_reception": 5})
    assert 'spec.sync_amount_reception: Unknown field (did you mean "syncAmountReception"?)' in (
        problem
    )


# ---- the fingerprint ----------------------------------------------------------------------

CONFIG: list[dict[str, Any]] = [
    {"_id": "rsyncGlobalParameters", "name": "rsyncGlobalParameters"},
    {"_id": "hub/hub", "name": "hub", "url": "/srv/hub/"},
    {"_id": "volume/paris", "name": "paris", "url": "/srv/paris/"},
    {"_id": "volume/london", "name": "london", "url": "/srv/london/"},
    {"_id": "synctarget/renders", "name": "renders", "paths": ["/renders/**"]},
]


def _fingerprint(docs: list[dict[str, Any]]) -> str:
    return SyncConfig.from_docs(docs).fingerprint


def _with(doc_id: str, changes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**d, **changes} if d["_id"] == doc_id else d for d in CONFIG]


def _other(info: KindInfo, key: str) -> Any:
    """A value for `key` unlike its default, of the same type."""
    default = info.defaults.get(key)
    current = default if default is not None else MINIMAL[info.kind].get(key, "")
    if isinstance(current, bool):
        return not current
    if isinstance(current, int):
        return current + 2
    if isinstance(current, list):
        return [*current, "/other/**"]
    return f"{current}x"


def _id_of(info: KindInfo) -> str:
    return next(str(d["_id"]) for d in CONFIG if (kind_of_id(d["_id"]) or (None,))[0] is info)


STORED = [
    (info, key) for info in KINDS.values() if info.kind is not Kind.USER for key in info.defaults
]


@pytest.mark.parametrize(("info", "key"), STORED, ids=[f"{i.kind.value}.{k}" for i, k in STORED])
def test_only_the_keys_the_desired_state_reads_change_the_fingerprint(
    info: KindInfo, key: str
) -> None:
    changed = _fingerprint(_with(_id_of(info), {key: _other(info, key)}))
    assert (changed != _fingerprint(CONFIG)) is (key in info.desired), key


def test_the_desired_keys_are_the_ones_the_rules_read() -> None:
    assert KINDS[Kind.GLOBAL].desired == ("syncEverywhere", "retryBackoffBase", "retryBackoffMax")
    assert KINDS[Kind.VOLUME].desired == ("enabled", "enableReception", "propagateDeletions")
    assert KINDS[Kind.HUB].desired == ()
    assert KINDS[Kind.SYNCTARGET].desired == KINDS[Kind.SYNCTARGET].keys


def test_objects_coming_and_going_change_the_fingerprint() -> None:
    base = _fingerprint(CONFIG)
    assert _fingerprint([*CONFIG, {"_id": "volume/tokyo", "url": "/srv/tokyo/"}]) != base
    assert _fingerprint([d for d in CONFIG if d["_id"] != "hub/hub"]) != base
    assert _fingerprint(list(reversed(CONFIG))) == base


def _status_writes() -> list[tuple[str, dict[str, Any]]]:
    """What the reconciler writes on configuration objects (`tests/reconciler/
    test_fingerprint.py` runs the writers themselves)."""
    writes: list[tuple[str, dict[str, Any]]] = []
    for direction in Direction:
        for code in (0, 23, 255):
            for before in ({}, {"agentStatus": "on"}, {"agentStatus": "off"}):
                status = volume_status(
                    before, direction=direction, exit_code=code, stderr="boom", delivered=3,
                    now=5000, backoff_base=30, backoff_max=3600, sent_bytes=10, seconds=0.5,
                )  # fmt: skip
                writes.append((f"batch {direction.value} {code} {before}", status))
    writes += [
        ("marker: first contact", {ID_KEY: "0123abcd"}),
        ("marker: not mounted", {ERROR_KEY: "not mounted", "agentStatus": "off",
                                 "downSince": 1, "lastConnectionStatusChange": 1}),
        ("scan", {"last_scan": 9, "scan_duration": 0.5, "exit_scan": 0, "stderr_scan": "",
                  "scannedOnce": 9, HELD_KEY: 12, REASON_KEY: "too many"}),
        ("notify", {"notifiedState": "down", "lastNotification": 7, "notifyError": "smtp",
                    "notifyIntent": {"state": "down"}}),
        ("any write", {"time": 11, "author": "alice"}),
    ]  # fmt: skip
    return writes


@pytest.mark.parametrize(("writer", "status"), _status_writes(), ids=lambda v: str(v)[:40])
def test_status_writes_leave_the_fingerprint_unchanged(writer: str, status: Any) -> None:
    assert status, writer
    for doc_id in ("volume/paris", "hub/hub", "rsyncGlobalParameters"):
        assert _fingerprint(_with(doc_id, status)) == _fingerprint(CONFIG), (writer, doc_id)


def test_stored_values_are_read_typed_and_a_misfit_as_the_default() -> None:
    """The generic API writes configuration without these checks: reading never fails."""
    cfg = SyncConfig.from_docs(
        [
            {"_id": "rsyncGlobalParameters", "syncEverywhere": "false", "leaseSeconds": "45"},
            {"_id": "hub/hub", "identityFile": 3},
            {"_id": "volume/paris", "url": "/srv/p/", "syncAmountReception": "many",
             "enableDiscovery": "true", "parallelStreams": 99, "rsync_args": "--delete"},
        ]
    )  # fmt: skip
    assert cfg.globals.sync_everywhere is False and cfg.globals.lease_seconds == 45
    assert cfg.hub is not None and (cfg.hub.name, cfg.hub.url, cfg.hub.identity_file) == (
        "hub",
        "",
        "",
    )
    paris = cfg.volumes["paris"]
    assert (paris.name, paris.sync_amount_reception, paris.enable_discovery) == (
        "paris",
        1000,
        True,
    )
    # the manifest checks are not run on stored values: the transport screens them again
    assert (paris.parallel_streams, paris.rsync_args) == (99, "--delete")
