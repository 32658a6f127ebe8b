"""Planning of transfers: batches, the rsync argument vector, and the keys to write after.

Purely computational, no I/O and no clock: the reconcile jobs read the queue and the
configuration, call these functions with values (`now` included), act on the result
(`reconciler.transfer` runs the argv), and write the keys these functions return.

- `select_batch`: the next batch in work order, bounded by files and bytes
  (`syncAmountEmission/Reception`, `syncBytesEmission/Reception`), never a package together
  with an entry below it (its per-package filter rule would reject that entry).
- `merge_options` / `rsync_argv`: user options by scope (global, hub, volume; later wins),
  only those `reconciler.rsync_options` allows, then the reconciler's own options, then
  `--` and the two locations (nothing after it can be read as an option).
- `file_changes` / `volume_status`: the tracker keys of SPEC §3 and §5 after a batch.
- `trash_stamp` / `trash_to_purge`: names of trash folders and which ones are too old.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.domain import (
    RECEIVED_BYTES_KEY,
    RECEPTION_SECONDS_KEY,
    Direction,
    as_number,
    attempts_key,
    error_key,
    is_package,
    is_unreachable,
    last_attempt_key,
    relpath,
    synced_key,
    syncing_key,
)
from reconciler.rsync_options import screen
from reconciler.store.queue import QueueItem

# Output lines of ours start with this, so rsync's own messages (-v) are never mistaken.
OUT_MARKER = "SPF:"
OUT_FORMAT = f"{OUT_MARKER}%i|%l|%M|%n"
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


def files_from(file_ids: Sequence[str]) -> bytes:
    """rsync's `--files-from=- --from0` input: NUL-separated paths relative to the root."""
    return b"".join(relpath(f).encode("utf-8", "surrogateescape") + b"\0" for f in file_ids)


def _glob_escape(text: str) -> str:
    # rsync filter patterns with a wildcard treat backslash as the escape character.
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def package_excludes(file_ids: Sequence[str]) -> list[str]:
    """One rule per package: its sub-folders stay behind (packages are not recursive)."""
    return [f"--exclude=/{_glob_escape(relpath(f))}*/" for f in file_ids if is_package(f)]


# ---- rsync options by scope ----------------------------------------------------------------

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class MergedOptions:
    args: tuple[str, ...]
    env: Mapping[str, str]
    dropped: tuple[str, ...]  # refused user options, for the log


def _split(text: str, scope: str, dropped: list[str]) -> list[str]:
    try:
        return shlex.split(text or "")
    except ValueError as exc:
        dropped.append(f"{scope}: cannot parse {text!r} ({exc})")
        return []


def _filter_args(tokens: list[str], scope: str, dropped: list[str]) -> list[str]:
    # The manifests refuse these already; values that reached the store another way (the
    # API, an older version) are screened again here, right before a command is built.
    screened = screen(tokens)
    dropped += [f"{scope}: {shlex.join(r.tokens)} ({r.reason})" for r in screened.refused]
    return list(screened.kept)


def merge_options(scopes: Sequence[tuple[str, str, str]]) -> MergedOptions:
    """Merge `(scope, rsync_args, rsync_env)` in order (global, hub, volume)."""
    args: list[str] = []
    env: dict[str, str] = {}
    dropped: list[str] = []
    for scope, arg_text, env_text in scopes:
        args += _filter_args(_split(arg_text, scope, dropped), scope, dropped)
        for pair in _split(env_text, scope, dropped):
            key, eq, value = pair.partition("=")
            if eq and _ENV_NAME.fullmatch(key):
                env[key] = value
            else:
                dropped.append(f"{scope}: environment entry {pair!r} is not KEY=VALUE")
    return MergedOptions(tuple(args), env, tuple(dropped))


@dataclass(frozen=True)
class Endpoints:
    """Source and destination as rsync names them, and the destination root's path."""

    source: str  # `user@host:/root/` or `/root/`
    dest: str
    dest_root: str  # absolute path on the destination host, ending with '/'
    rsh: str | None  # value of `-e` when one side is remote


def rsync_argv(
    *,
    file_ids: Sequence[str],
    ends: Endpoints,
    options: MergedOptions,
    stamp: str,
    dry_run: bool = False,
) -> list[str]:
    """The full rsync command for one batch (the file list goes on stdin)."""
    argv = ["rsync", "--perms", *options.args]
    argv += [
        "--no-recursive",  # -a from a user implies -r; only packages list a folder's files
        "--dirs",
        "--links",
        "--times",
        "--protect-args",
        "--from0",
        "--files-from=-",
        f"--partial-dir={ends.dest_root}.syncplanet/partial",
        # temp files out of the tree: a receiver killed mid-file leaves nothing a scan sees
        f"--temp-dir={ends.dest_root}.syncplanet/tmp",
        "--backup",
        f"--backup-dir={ends.dest_root}.syncplanet/trash/{stamp}",
        f"--out-format={OUT_FORMAT}",
        "--info=name2",  # unchanged files are reported too: they count as arrived
        *package_excludes(file_ids),
    ]
    if ends.rsh is not None:
        argv += ["-e", ends.rsh]
    if dry_run:
        argv.append("--dry-run")
    return [*argv, "--", ends.source, ends.dest]


def rsync_env(options: MergedOptions) -> dict[str, str]:
    # %M (mtime) is printed in local time: UTC makes it an unambiguous instant.
    return {**options.env, "TZ": "UTC0"}


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


# ---- trash -------------------------------------------------------------------------------

_STAMP = "%Y%m%dT%H%M%S"


def trash_stamp(now: int) -> str:
    """Name of the trash folder of a batch: UTC time with milliseconds (sortable)."""
    moment = datetime.fromtimestamp(now / 1000, UTC)
    return f"{moment.strftime(_STAMP)}.{now % 1000:03d}Z"


def _stamp_ms(name: str) -> int | None:
    try:
        moment = datetime.strptime(name[:15], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    if len(name) != 20 or name[15] != "." or not name[16:19].isdigit() or name[19] != "Z":
        return None
    return int(moment.timestamp()) * 1000 + int(name[16:19])


def trash_to_purge(names: Sequence[str], *, now: int, max_age_days: float) -> list[str]:
    """Trash folders (our own stamps only) older than `max_age_days`."""
    limit = now - int(max_age_days * 86_400_000)
    return sorted(n for n in names if (ms := _stamp_ms(n)) is not None and ms < limit)
