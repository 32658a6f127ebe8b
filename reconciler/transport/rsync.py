"""What both site transports share: rsync and `sh` run on the hub host through its shell.

`RsyncTransport` implements `SiteTransport` once; a subclass only says how the hub host
reaches the site's root (`_rsh`: rsync's `-e`, `_at_site`: a shell snippet run there).

A transfer is one rsync call for the whole batch (the list NUL-separated on stdin), or, with
`Batch.streams` > 1, one per group of `reconciler.core.streams.partition`, run at once
as channels of the lane's one SSH connection and verified each on its own. When a call
exits 0, every entry it reported arrived. When it fails for another reason than
unreachability, what it printed is not proof (in push mode the sender reports a file before
the receiver commits it), so the same command is re-run with `--dry-run`: an entry it would
not transfer has the same size and mtime on both sides, which is the verification of
architecture.md#the-loop. A trash move that fails is split in halves, so one bad file does not hold
back the others; an unreachable site stops it.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from reconciler.core.domain import Direction, InvalidId, check_file_id, is_unreachable, relpath
from reconciler.core.planning import FileFacts
from reconciler.core.streams import partition
from reconciler.core.urls import SiteUrl
from reconciler.transport.commands import (
    MKDIRS_ARGV,
    MKTEMP_ARGV,
    Endpoints,
    files_from,
    list_trash_script,
    listing_argv,
    parent_dirs,
    prepare_script,
    probe_script,
    read_marker_script,
    remove_argv,
    remove_trash_script,
    rsync_argv,
    rsync_env,
    trash_argv,
    write_marker_script,
)
from reconciler.transport.itemize import arrived, parse_itemized
from reconciler.transport.options import MergedOptions
from reconciler.transport.protocol import Batch, TransferOutcome, TrashOutcome
from reconciler.transport.shells import CommandFailed, Completed, HubShell
from reconciler.transport.ssh import SshSettings
from reconciler.transport.trash import trash_stamp, trash_to_purge

UNREACHABLE = 255  # what a failed connection to the hub itself is recorded as
BASE = ""  # the lane of scans, trash moves and probes: the session's own sockets
PURGE = "purge"
SCAN = "scan"  # the listing's lane: it runs while the marker is read on BASE

log = logging.getLogger(__name__)


def safe_ids(file_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ids into those rsync may see and those that break architecture.md#file-keys's path
    rules.

    The API refuses bad ids already; this is the last line before a path reaches a
    command, so an id written into the database by other means cannot escape a root.
    """
    safe: list[str] = []
    refused: list[str] = []
    for file_id in file_ids:
        try:
            safe.append(check_file_id(file_id))
        except InvalidId:
            refused.append(file_id)
    return safe, refused


class RsyncTransport(ABC):
    """A site root the hub host reaches with rsync and `sh` (see the module docstring)."""

    def __init__(self, url: SiteUrl, *, shell: HubShell, ssh: SshSettings) -> None:
        self.url = url
        self.shell = shell
        self.ssh = ssh

    # ---- how the hub host reaches the root (per implementation) ----------------------------

    @abstractmethod
    def _rsh(self, lane: str) -> str | None:
        """rsync's `-e` for this site, or None when the root is on the hub host."""

    @abstractmethod
    def _at_site(self, lane: str, script: str) -> list[str]:
        """The argv running a shell snippet (paths in it already quoted) at the site."""

    def disconnect(self) -> None:
        return None

    # ---- running commands -------------------------------------------------------------

    def _run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Completed:
        try:
            return self.shell.run(argv, stdin=stdin, env=env)
        except Exception as exc:  # the hub host itself failed us (Fabric/paramiko, OSError)
            return Completed(UNREACHABLE, b"", f"hub: {type(exc).__name__}: {exc}".encode())

    # ---- observing --------------------------------------------------------------------

    def list_files(self) -> Iterator[bytes]:
        return self.shell.stream(listing_argv(self.url, self.ssh.lane(SCAN)))

    def reachable(self) -> bool:
        return self._run(self._at_site(BASE, probe_script(self.url.path))).exit_code == 0

    def read_marker(self) -> bytes | None:
        done = self._run(self._at_site(BASE, read_marker_script(self.url.path)))
        if done.exit_code != 0:
            raise CommandFailed(done.exit_code, done.stderr_text)
        return done.stdout or None

    def write_marker(self, data: bytes, *, replace: bool = False) -> None:
        script = write_marker_script(self.url.path, replace=replace)
        done = self._run(self._at_site(BASE, script), stdin=data)
        if done.exit_code != 0:
            raise CommandFailed(done.exit_code, done.stderr_text)

    # ---- transfers --------------------------------------------------------------------

    def send(self, batch: Batch) -> TransferOutcome:
        return self._transfer(Direction.EMISSION, batch)

    def receive(self, batch: Batch) -> TransferOutcome:
        return self._transfer(Direction.RECEPTION, batch)

    def _ends(self, direction: Direction, hub_root: str) -> Endpoints:
        """Emission pulls from the site into the hub root; reception pushes from the hub."""
        site, rsh = self.url.rsync_location(), self._rsh(direction.value)
        if direction is Direction.EMISSION:
            return Endpoints(source=site, dest=hub_root, dest_root=hub_root, rsh=rsh)
        return Endpoints(source=hub_root, dest=site, dest_root=self.url.path, rsh=rsh)

    def _prepare(self, direction: Direction, hub_root: str) -> Completed:
        """The destination's reserved folders (`.syncplanet/{partial,tmp,trash}`)."""
        if direction is Direction.EMISSION:  # the hub root is on the hub host
            return self._run(["sh", "-c", prepare_script(hub_root)])
        return self._run(self._at_site(direction.value, prepare_script(self.url.path)))

    def _transfer(self, direction: Direction, batch: Batch) -> TransferOutcome:
        """Move the batch one way with one rsync call and report which entries arrived."""
        started = time.monotonic()
        file_ids, refused = safe_ids(batch.file_ids)
        if refused:  # never reached rsync: they come back as unverified, hence errored
            log.error("refusing %d file ids breaking the path rules: %r", len(refused), refused[:5])
        if not file_ids:
            stderr = f"refused {len(refused)} invalid file ids" if refused else ""
            return TransferOutcome(0, stderr, {}, 0.0, attempted=False)
        prep = self._prepare(direction, batch.hub_root)
        if prep.exit_code != 0:
            return TransferOutcome(prep.exit_code, prep.stderr_text, {}, time.monotonic() - started)
        groups = partition(file_ids, batch.sizes, batch.streams)
        if len(groups) > 1 and direction is Direction.EMISSION:
            self._warm(direction.value)  # reception's `_prepare` opened the lane's master
        ends = self._ends(direction, batch.hub_root)
        stamp = trash_stamp(batch.now)  # one trash folder: the streams' files are disjoint

        def stream(group: list[str]) -> _Stream:
            return self._stream(group, ends=ends, options=batch.options, stamp=stamp)

        if len(groups) == 1:
            results = [stream(groups[0])]
        else:  # each stream a channel of the lane's one ControlMaster (its own SSH window)
            with ThreadPoolExecutor(len(groups), thread_name_prefix="rsync-stream") as pool:
                results = list(pool.map(stream, groups))
        return _combined(results, time.monotonic() - started)

    def _warm(self, lane: str) -> None:
        """Open the lane's kept connection before parallel streams share it (none here)."""
        return None

    def _stream(
        self, file_ids: list[str], *, ends: Endpoints, options: MergedOptions, stamp: str
    ) -> _Stream:
        """One rsync run for `file_ids`, and the entries whose arrival it proves."""
        stdin, env = files_from(file_ids), rsync_env(options)

        def run(dry_run: bool) -> Completed:  # the same command, or its dry run
            argv = rsync_argv(
                file_ids=file_ids, ends=ends, options=options, stamp=stamp, dry_run=dry_run
            )
            return self._run(argv, stdin=stdin, env=env)

        done = run(False)
        return _Stream(done, _verified(file_ids, done, run))

    # ---- trash ------------------------------------------------------------------------

    def move_to_trash(
        self, file_ids: Sequence[str], *, options: MergedOptions, now: int
    ) -> TrashOutcome:
        """Move `file_ids` to trash from one temporary empty source on the hub host."""
        probe = self._run(self._at_site(BASE, probe_script(self.url.path)))
        if probe.exit_code != 0:  # rsync would create a missing root, then "move" nothing
            failed = f"exit {probe.exit_code}: {probe.stderr_text.strip()[:500]}"
            return TrashOutcome([], is_unreachable(probe.exit_code), [failed])
        made = self.shell.run(MKTEMP_ARGV)
        if made.exit_code != 0:
            failed = f"mktemp on the hub host failed: {made.stderr_text.strip()}"
            return TrashOutcome(moved=[], errors=[failed])
        source = made.stdout.decode().strip()
        try:
            dirs = parent_dirs(file_ids)
            if dirs:
                self.shell.run(
                    [*MKDIRS_ARGV, source], stdin=b"\0".join(d.encode() for d in dirs) + b"\0"
                )
            location, stamp = self.url.rsync_location(), trash_stamp(now)
            argv = trash_argv(options.args, source, location, self._rsh(BASE), stamp)
            moves = _TrashMoves(self.shell, argv, dict(options.env))
            moves.run(list(file_ids))
            return TrashOutcome(moves.moved, moves.unreachable, moves.errors)
        finally:
            self.shell.run(remove_argv(source))

    def purge_trash(self, *, now: int, max_age_days: float) -> int:
        listed = self._run(self._at_site(PURGE, list_trash_script(self.url.path)))
        if listed.exit_code != 0:
            return 0
        names = [n.decode("utf-8", "surrogateescape") for n in listed.stdout.split(b"\0") if n]
        old = trash_to_purge(names, now=now, max_age_days=max_age_days)
        if not old:
            return 0
        removed = self._run(self._at_site(PURGE, remove_trash_script(self.url.path, old)))
        return len(old) if removed.exit_code == 0 else 0


@dataclass
class _TrashMoves:
    """One trash move's rsync runs: a failed set is split in halves, until one file."""

    shell: HubShell
    argv: list[str]
    env: dict[str, str]
    moved: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unreachable: bool = False

    def run(self, ids: list[str]) -> None:
        if not ids or self.unreachable:
            return
        stdin = b"".join(relpath(i).encode() + b"\0" for i in ids)
        done = self.shell.run(self.argv, stdin=stdin, env=self.env or None)
        if done.exit_code == 0:
            self.moved += ids
            return
        self.unreachable = is_unreachable(done.exit_code)
        if self.unreachable or len(ids) == 1:
            self.errors.append(f"exit {done.exit_code}: {done.stderr_text.strip()[:500]}")
            return
        half = len(ids) // 2
        self.run(ids[:half])
        self.run(ids[half:])


@dataclass(frozen=True)
class _Stream:
    done: Completed
    arrived: Mapping[str, FileFacts]


def _combined(results: Sequence[_Stream], seconds: float) -> TransferOutcome:
    """One outcome for a batch's streams: every verified entry; the exit code of an
    unreachable site first (the volume is down), else the first failure, else 0."""
    codes = [r.done.exit_code for r in results]
    failed = [c for c in codes if is_unreachable(c)] or [c for c in codes if c]
    stderr = "\n".join(t for r in results if (t := r.done.stderr_text.strip()))
    arrived = {f: facts for r in results for f, facts in r.arrived.items()}
    return TransferOutcome(failed[0] if failed else 0, stderr, arrived, seconds)


def _verified(
    file_ids: list[str], done: Completed, rerun: Callable[[bool], Completed]
) -> Mapping[str, FileFacts]:
    """The entries of a batch whose arrival `done` (or a dry run after it) proves."""
    if done.exit_code == 0:
        return arrived(file_ids, parse_itemized(done.stdout), proof="reported")
    if is_unreachable(done.exit_code):
        return {}
    again = rerun(True)
    if is_unreachable(again.exit_code):
        return {}
    got = arrived(file_ids, parse_itemized(again.stdout), proof="unchanged")
    # bytes moved come from the real run; the dry run only proves arrival
    moved = arrived(file_ids, parse_itemized(done.stdout), proof="reported")
    return {
        f: FileFacts(facts.size, facts.mtime_ms, moved[f].sent_bytes if f in moved else 0)
        for f, facts in got.items()
    }
