"""From a sorted listing to the entries a scan tracks, with packages folded in (pure).

Two passes over the same sorted listing (the scan spools it to a temporary file):
1. `package_folders` finds the folders that are packages (they directly contain a tracked
   file matching `packagePatternRules`, or the tracker already knows them as packages) and
   their size (sum of the files directly inside) and mtime (the newest of them). Only the
   chain of open folders is held, plus one small tuple per package: sorted input keeps
   every folder's subtree contiguous.
2. `arrange` yields, still in `_id` order, the tracked files, each package just before the
   first entry below it (`/a/b/` sorts before `/a/b/anything`), and the package members as
   `MEMBER` entries (present, never tracked on their own).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from reconciler.jobs.scan.listing import EntryKind, Listed
from reconciler.jobs.scan.rules import ScanRules, ancestors, folder_of

Aggregate = tuple[int, int]  # (size in bytes, newest mtime in ms)


@dataclass(slots=True)
class _Folder:
    """An open folder of pass 1 (mutable accumulator, local to `package_folders`)."""

    id: str
    size: int
    mtime: int
    is_package: bool = False


def package_folders(entries: Iterable[Listed], rules: ScanRules) -> dict[str, Aggregate]:
    """Pass 1: package id -> (size, mtime) of the files directly inside it."""
    found: dict[str, Aggregate] = {}
    if not rules.folds_packages:
        return found
    stack: list[_Folder] = []  # open folders with files directly inside, outermost first

    def close(frame: _Folder) -> None:
        if frame.is_package:
            found[frame.id] = (frame.size, frame.mtime)

    for entry in entries:
        folder = folder_of(entry.id)
        while stack and not folder.startswith(stack[-1].id):
            close(stack.pop())
        if not stack or stack[-1].id != folder:
            known = folder in rules.known_packages and rules.tracks_package(folder)
            stack.append(_Folder(folder, 0, entry.mtime_ms, known))
        frame = stack[-1]
        frame.size += entry.size
        frame.mtime = max(frame.mtime, entry.mtime_ms)
        if not frame.is_package and rules.makes_package(entry.id) and rules.tracks(entry.id):
            frame.is_package = rules.tracks_package(folder)
    while stack:
        close(stack.pop())
    return found


def arrange(
    entries: Iterable[Listed], rules: ScanRules, packages: Mapping[str, Aggregate]
) -> Iterator[Listed]:
    """Pass 2: the tracked entries in `_id` order (see the module docstring)."""
    if not packages and not rules.filters:
        yield from entries  # the common case: nothing to fold, nothing to filter
        return
    emitted: set[str] = set()
    last_folder = ""
    for entry in entries:
        folder = folder_of(entry.id)
        if packages and folder != last_folder:
            for parent in ancestors(folder):
                if parent in packages and parent not in emitted:
                    emitted.add(parent)
                    size, mtime = packages[parent]
                    yield Listed(parent, size, mtime, EntryKind.PACKAGE)
            last_folder = folder
        if folder in packages:
            yield entry._replace(kind=EntryKind.MEMBER)
        elif rules.tracks(entry.id):
            yield entry
