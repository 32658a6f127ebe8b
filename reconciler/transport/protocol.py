"""The seam between the reconcile jobs and a kind of storage: `SiteTransport`.

A site transport is one site's root (a volume, or the hub itself) as the hub host reaches
it. The jobs decide what to move (`reconciler.core.planning`) and call a transport to act; they
never build a command. Every operation is level-based and safe to repeat:

- `list_files`: the site's regular files, as listing records (below), for a scan;
- `send` / `receive`: one batch from the site to the hub root, or from the hub root to the
  site, with per-file verification: `TransferOutcome.arrived` holds only the entries whose
  arrival is proven (architecture.md#the-loop), whatever the exit code; `Batch.streams` > 1 splits
  it across that many rsync runs at once (each verified the same way);
- `move_to_trash`: copies of deleted files go to `.syncplanet/trash/<stamp>/` at the site;
- `purge_trash`: trash folders older than the limit are deleted;
- `reachable`: the site answers and its root is a folder;
- `read_marker` / `write_marker`: the volume marker `.syncplanet/volume.json` in the root,
  which tells a mounted volume from the empty folder left by an unmounted share
  (`reconciler.jobs.markers`);
- `disconnect`: kept-open connections to the site are stopped (they reopen on demand).

Nothing is lost at a target: whatever a `receive`, `send` or `move_to_trash` overwrites or
removes is kept in that root's trash first. Implementations live side by side in
`reconciler.transport.sites` (a root on the hub host, and rsync over SSH) and pass one
contract test suite (`tests/transport/`).

Listing records are NUL-terminated `SIZE/MTIME/PATH` (size in bytes, mtime in seconds as a
decimal, path relative to the root, any bytes but NUL), in byte order of PATH, with the
reserved `.syncplanet` folders left out: `reconciler.jobs.scan.listing.ListingParser` reads them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.core.domain import is_unreachable
from reconciler.core.planning import FileFacts
from reconciler.core.urls import SiteUrl
from reconciler.transport.options import NO_OPTIONS, MergedOptions


@dataclass(frozen=True)
class Batch:
    """What to move in one transfer, and where the hub's end of it is."""

    file_ids: Sequence[str]
    hub_root: str  # the hub's root as a path on the hub host, ending with '/'
    options: MergedOptions = NO_OPTIONS  # user rsync options of the volume's scopes
    now: int = 0  # ms: names the trash folder of what the transfer overwrites
    # parallel rsync runs the batch is split across (`reconciler.core.streams`), by
    # the sizes known to the tracker (a missing size counts as one byte)
    streams: int = 1
    sizes: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TransferOutcome:
    exit_code: int
    stderr: str
    arrived: Mapping[str, FileFacts]  # the verified entries only
    seconds: float
    attempted: bool = True  # False when nothing was run (empty batch)

    @property
    def unreachable(self) -> bool:
        return is_unreachable(self.exit_code)


@dataclass(frozen=True)
class TrashOutcome:
    moved: list[str]  # confirmed moved to trash, or already absent
    unreachable: bool = False  # the site did not answer: stop asking for now
    errors: list[str] = field(default_factory=list)


class SiteTransport(Protocol):
    """One site's root as the hub host reaches it (see the module docstring)."""

    @property
    def url(self) -> SiteUrl: ...

    def list_files(self) -> Iterator[bytes]:
        """Listing records in chunks; raise `CommandFailed` (after the last chunk) on failure.

        Closing the iterator early stops the listing."""
        ...

    def send(self, batch: Batch) -> TransferOutcome:
        """Site -> hub root (an emission)."""
        ...

    def receive(self, batch: Batch) -> TransferOutcome:
        """Hub root -> site (a reception)."""
        ...

    def move_to_trash(
        self, file_ids: Sequence[str], *, options: MergedOptions, now: int
    ) -> TrashOutcome: ...

    def purge_trash(self, *, now: int, max_age_days: float) -> int:
        """Delete trash folders older than `max_age_days`; return how many."""
        ...

    def reachable(self) -> bool: ...

    def read_marker(self) -> bytes | None:
        """The root's `.syncplanet/volume.json`, None when there is none; raise
        `CommandFailed` when the root cannot be read (site down, root missing)."""
        ...

    def write_marker(self, data: bytes, *, replace: bool = False) -> None:
        """Write `data` as the root's `.syncplanet/volume.json`, in an existing root only:
        created if absent, or swapped atomically with `replace`; raise `CommandFailed` on
        failure (also when it exists and `replace` is off)."""
        ...

    def disconnect(self) -> None: ...
