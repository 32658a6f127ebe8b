"""Volume markers: is the root we reach the volume we know, or an unmounted share's mountpoint?

A NAS share that is not mounted leaves its mountpoint behind: an empty folder, or one holding
a stray file something wrote into it. Listed, it would read as "every file deleted". So at
the first successful contact with a volume the reconciler writes `.syncplanet/volume.json`
(`{"name": ..., "id": ...}`, a fresh random id) in its root and records the id as `volumeId`
on the `volume/<name>` object. Before every scan, transfer batch and deletion propagation
the marker is read back (`ensure_mounted`):

- no `volumeId` recorded yet is the first contact: a marker naming this volume is adopted
  (the store was rebuilt, the disk is right), otherwise a new one is written;
- the recorded id found: mounted;
- no marker, or another id (another volume's root, a re-created share): NOT MOUNTED. The
  volume counts as down (`agentStatus: off`, connection backoff, `syncplanet_volume_up` 0,
  the e-mail digest) and `mountError` says why; scans, emissions, receptions and deletions
  stop for it until the recorded marker is back, then it is up again at once.

An operator re-initialises a volume deliberately with `spctl scan VOLUME --adopt` (`adopt`:
a new marker and id, whatever the root holds), or by removing `volumeId` from the volume
object (the next contact is a first contact). `judge` decides, purely computational.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.core.config import SyncConfig, VolumeConfig
from reconciler.core.domain import VOLUME_PREFIX, as_number
from reconciler.core.planning import backoff_ms
from reconciler.jobs.runtime import Runtime
from reconciler.transport.protocol import SiteTransport
from reconciler.transport.shells import CommandFailed

log = logging.getLogger(__name__)
NOT_MOUNTED_EXIT = 4  # exit_scan of a scan refused because the volume is not mounted
ID_KEY = "volumeId"
ERROR_KEY = "mountError"


class Verdict(StrEnum):
    MOUNTED = "mounted"  # the recorded marker is there
    FIRST_CONTACT = "first contact"  # nothing recorded, no marker: write one
    RECORD = "record"  # nothing recorded, a marker of this volume: record its id
    MISSING = "missing"  # an id is recorded, the root has no marker
    FOREIGN = "foreign"  # the root's marker is another volume's


@dataclass(frozen=True)
class Marker:
    name: str
    id: str

    def render(self) -> bytes:
        return json.dumps({"name": self.name, "id": self.id}, indent=2).encode() + b"\n"


def parse_marker(data: bytes | None) -> Marker | None:
    """The marker in `data`, or None when there is none or it is not one of ours."""
    if not data:
        return None
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict):
        return None
    name, ident = value.get("name"), value.get("id")
    if not isinstance(name, str) or not isinstance(ident, str) or not ident:
        return None
    return Marker(name, ident)


def judge(found: Marker | None, recorded: str | None, name: str) -> Verdict:
    """What the marker found in a volume's root means (see the module docstring)."""
    if recorded is None:
        if found is None:
            return Verdict.FIRST_CONTACT
        return Verdict.RECORD if found.name == name else Verdict.FOREIGN
    if found is None:
        return Verdict.MISSING
    return Verdict.MOUNTED if found.id == recorded else Verdict.FOREIGN


def explain(verdict: Verdict, url: str, found: Marker | None, recorded: str | None) -> str:
    """The `mountError` text of a volume found not mounted."""
    if verdict is Verdict.MISSING:
        what = "has no .syncplanet/volume.json"
    elif found is not None:
        what = f"holds the marker of volume {found.name!r} (id {found.id})"
    else:
        what = "holds another marker"
    return (
        f"volume root {url} {what}, expected id {recorded or '(none recorded)'}: not mounted? "
        "Scans, transfers and deletions wait. Mount it, or re-initialise it deliberately "
        "with `spctl scan VOLUME --adopt`."
    )


@dataclass(frozen=True)
class MountCheck:
    verdict: Verdict | None  # None: the root could not be read (`exit_code`, `message`)
    message: str = ""
    exit_code: int = 0

    @property
    def not_mounted(self) -> bool:
        return self.verdict in (Verdict.MISSING, Verdict.FOREIGN)


def _recorded(doc: dict[str, Any]) -> str | None:
    value = doc.get(ID_KEY)
    return value if isinstance(value, str) and value else None


def ensure_mounted(
    rt: Runtime, cfg: SyncConfig, volume: VolumeConfig, site: SiteTransport, *, adopt: bool = False
) -> MountCheck:
    """Read the volume's marker, write it at first contact (or `adopt`), record the state."""
    try:
        found = parse_marker(site.read_marker())
        with rt.store.read() as tx:
            doc = tx.get(VOLUME_PREFIX + volume.name) or {}
        recorded = _recorded(doc)
        verdict = Verdict.FIRST_CONTACT if adopt else judge(found, recorded, volume.name)
        if verdict is Verdict.FIRST_CONTACT:
            found = _write(site, Marker(volume.name, uuid.uuid4().hex), replace=adopt)
            if not adopt:  # two workers at first contact: both read back the winner
                verdict = judge(found, None, volume.name)
    except CommandFailed as exc:
        return MountCheck(None, exc.stderr.strip()[:2000], exc.exit_code)
    if verdict in (Verdict.MISSING, Verdict.FOREIGN):
        message = explain(verdict, volume.url, found, recorded)
        _record_down(rt, cfg, volume.name, message)
        return MountCheck(verdict, message, NOT_MOUNTED_EXIT)
    assert found is not None  # MOUNTED, RECORD, FIRST_CONTACT all hold one by now
    if verdict is not Verdict.MOUNTED or doc.get(ERROR_KEY):  # else nothing to write
        _record_up(rt, volume.name, found.id, recorded=recorded, adopt=adopt)
    return MountCheck(verdict)


def _write(site: SiteTransport, marker: Marker, *, replace: bool) -> Marker | None:
    try:
        site.write_marker(marker.render(), replace=replace)
    except CommandFailed:
        if replace:
            raise
        # not created: another worker's marker won the race (or the write failed; then the
        # read below fails or finds none, and the volume stays without a recorded id)
    return parse_marker(site.read_marker())


def _record_down(rt: Runtime, cfg: SyncConfig, name: str, message: str) -> None:
    """The volume counts as down: transfers wait for its next connection attempt."""
    now = rt.clock()
    with rt.store.write() as tx:
        doc = tx.get(VOLUME_PREFIX + name) or {}
        failures = int(as_number(doc.get("connectionFailures")) or 0) + 1
        base, cap = float(cfg.globals.retry_backoff_base), float(cfg.globals.retry_backoff_max)
        changes: dict[str, Any] = {
            ERROR_KEY: message,
            "agentStatus": "off",
            "lastConnectionAttempt": now,
            "connectionFailures": failures,
            "nextConnectionAttempt": now + backoff_ms(failures, base, cap),
        }
        if doc.get("agentStatus") != "off":
            changes |= {"lastConnectionStatusChange": now, "downSince": now}
        tx.patch(VOLUME_PREFIX + name, changes)
    if not doc.get(ERROR_KEY):
        log.error("volume %s: %s", name, message)


def _record_up(rt: Runtime, name: str, ident: str, *, recorded: str | None, adopt: bool) -> None:
    """Record the id (first contact) and end a not-mounted state; else write nothing."""
    with rt.store.write() as tx:
        doc = tx.get(VOLUME_PREFIX + name) or {}
        changes: dict[str, Any] = {}
        if adopt or _recorded(doc) is None:
            changes[ID_KEY] = ident
        elif _recorded(doc) != recorded:  # re-initialised meanwhile: the next check judges
            return
        if doc.get(ERROR_KEY):
            now = rt.clock()
            changes |= {
                ERROR_KEY: None, "agentStatus": "on", "lastConnectionSuccess": now,
                "lastConnectionAttempt": now, "lastConnectionStatusChange": now,
                "connectionFailures": None, "nextConnectionAttempt": None, "downSince": None,
            }  # fmt: skip
        if changes:
            tx.patch(VOLUME_PREFIX + name, changes)
    if ID_KEY in changes:
        log.info(
            "volume %s: marker id %s recorded (%s)",
            name,
            ident,
            "adopted" if adopt else "first contact",
        )
