"""Planning of transfers: which batch goes next, and the keys to write after it.

Purely computational, no I/O and no clock: the reconcile jobs read the queue and the
configuration, call these functions with values (`now` included), hand the batch to a site
transport (`reconciler.transport`, which alone knows rsync and ssh), and write the keys
these functions return from its outcome.

- `select_batch`: the next batch in work order, bounded by files and bytes
  (`syncAmountEmission/Reception`, `syncBytesEmission/Reception`), never a package together
  with an entry below it (its per-package filter rule would reject that entry).
- `file_changes` / `volume_status`: the tracker keys of architecture.md#file-keys,
  architecture.md#the-loop after a batch.
- `volume_waiting`: whether an unreachable volume's backoff still holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.domain import (
    RECEIVED_BYTES_KEY,
    RECEPTION_SECONDS_KEY,
    Direction,
    as_number,
    attempts_key,
    error_key,
    is_package,
    is_unreachable,
    last_attempt_key,
    synced_key,
    syncing_key,
)


@dataclass(frozen=True)
class QueueItem:
    """One pending (file, site) row of the work queue, in the order the store reads them."""

    file_id: str
    site: str
    priority: int
    failed: bool
    time: int
    size: int


# Exit code recorded when rsync said nothing about a file although it exited 0.
UNREPORTED_EXIT = 23


# ---- batches ---------------------------------------------------------------------------


def _inside(child: str, package: str) -> bool:
    return child != package and child.startswith(package)


def select_batch(items: Sequence[QueueItem], max_files: int, max_bytes: int) -> list[QueueItem]:
    """The longest prefix of `items` (work order) within the limits; at least one item.

    An item below a package of the batch (or a package above an item of the batch) is left
    for a later batch: rsync would reject it, since the package excludes its sub-folders.
    """
    batch: list[QueueItem] = []
    total = 0
    packages: list[str] = []
    for item in items:
        if len(batch) >= max(1, max_files):
            break
        if batch and total + item.size > max_bytes:
            break
        if any(_inside(item.file_id, p) for p in packages):
            continue
        if is_package(item.file_id) and any(_inside(b.file_id, item.file_id) for b in batch):
            continue
        batch.append(item)
        total += item.size
        if is_package(item.file_id):
            packages.append(item.file_id)
    return batch


# ---- keys after a batch -------------------------------------------------------------------


@dataclass(frozen=True)
class FileFacts:
    """What rsync reported about one arrived entry (source attributes)."""

    size: int
    mtime_ms: int | None
    sent_bytes: int  # bytes rsync actually moved for it (0 when already identical)


def file_changes(
    doc: Mapping[str, Any],
    *,
    site: str,
    direction: Direction,
    planned_time: int,
    facts: FileFacts | None,
    exit_code: int,
    now: int,
) -> dict[str, Any]:
    """Keys to patch on a file after a batch (None deletes a key).

    `facts` is None when the arrival was not verified. A verified file is marked synced
    only if its `time` did not change during the transfer (else a newer version exists
    and the next pass sends it).
    """
    changes: dict[str, Any] = {syncing_key(site): None}
    time = as_number(doc.get("time"))
    if facts is not None:
        if time is None or int(time) != planned_time:
            return changes
        changes[synced_key(site)] = max(now, planned_time)
        changes[error_key(site)] = None
        changes[last_attempt_key(site)] = None
        changes[attempts_key(site)] = None
        if direction is Direction.EMISSION:
            changes["file_size"] = facts.size
            if facts.mtime_ms is not None:
                changes["file_mtime"] = facts.mtime_ms
        return changes
    code = exit_code if exit_code != 0 else UNREPORTED_EXIT
    changes[error_key(site)] = code
    changes[last_attempt_key(site)] = now
    if not is_unreachable(code):  # unreachability is the volume's backoff, not the file's
        attempts = as_number(doc.get(attempts_key(site))) or 0
        changes[attempts_key(site)] = int(attempts) + 1
    return changes


def backoff_ms(failures: int, base_s: float, cap_s: float) -> int:
    return int(min(base_s * 2 ** max(0, failures - 1), cap_s) * 1000)


def volume_status(
    doc: Mapping[str, Any],
    *,
    direction: Direction,
    exit_code: int,
    stderr: str,
    delivered: int,
    now: int,
    backoff_base: float,
    backoff_max: float,
    sent_bytes: int = 0,
    seconds: float = 0.0,
) -> dict[str, Any]:
    """Status keys of a `volume/<name>` object after a batch that tried to connect.

    A reception that moved `sent_bytes` in `seconds` adds them to the volume's totals
    (its measured throughput)."""
    name = direction.value
    changes: dict[str, Any] = {
        "lastConnectionAttempt": now,
        f"exit_{name}": exit_code,
        f"stderr_{name}": stderr[-2000:] if exit_code else "",
    }
    was_on = doc.get("agentStatus") == "on"
    if is_unreachable(exit_code):
        failures = int(as_number(doc.get("connectionFailures")) or 0) + 1
        changes["agentStatus"] = "off"
        changes["connectionFailures"] = failures
        changes["nextConnectionAttempt"] = now + backoff_ms(failures, backoff_base, backoff_max)
        if doc.get("agentStatus") != "off":
            changes["lastConnectionStatusChange"] = now
            changes["downSince"] = now
        return changes
    changes["agentStatus"] = "on"
    changes["lastConnectionSuccess"] = now
    changes["connectionFailures"] = None
    changes["nextConnectionAttempt"] = None
    changes["downSince"] = None
    if not was_on:
        changes["lastConnectionStatusChange"] = now
    if delivered:
        changes[f"last_{name}"] = now
    if direction is Direction.RECEPTION and sent_bytes > 0 and seconds > 0:
        for key, add in ((RECEIVED_BYTES_KEY, sent_bytes), (RECEPTION_SECONDS_KEY, seconds)):
            changes[key] = (as_number(doc.get(key)) or 0) + add
    return changes


def volume_waiting(doc: Mapping[str, Any] | None, now: int) -> bool:
    """True while an unreachable volume's backoff has not elapsed."""
    if doc is None or doc.get("agentStatus") != "off":
        return False
    retry = as_number(doc.get("nextConnectionAttempt"))
    return retry is not None and retry > now
