"""Counts the files that land in folders, with Linux inotify (ctypes, no extra package).

rsync writes each file it transfers to a temporary name and renames it into place (the
reconciler also gives it a `--partial-dir`), so every completed transfer of a file is one
`IN_MOVED_TO` event named after it; a file rsync skips because it is already there makes
none. `Landings` watches folders from a thread and counts those events per path.
"""

from __future__ import annotations

import ctypes
import os
import select
import struct
import threading
from collections import Counter
from pathlib import Path

IN_MOVED_TO = 0x00000080
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


class Landings:
    """`with Landings([dir, ...]) as seen:` then `seen.counts[path]`: files renamed into place."""

    def __init__(self, folders: list[Path]) -> None:
        self._libc = ctypes.CDLL("libc.so.6", use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self._folders: dict[int, Path] = {}
        for folder in folders:
            wd = self._libc.inotify_add_watch(self._fd, os.fsencode(folder), IN_MOVED_TO)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
            self._folders[wd] = folder
        self.counts: Counter[Path] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Landings:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._drain()
        os.close(self._fd)

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.1)
            if ready:
                self._drain()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self._fd, 1 << 20)
            except BlockingIOError:
                return
            offset = 0
            while offset < len(data):
                wd, mask, _, size = _HEADER.unpack_from(data, offset)
                start = offset + _HEADER.size
                name = data[start : start + size].rstrip(b"\0")
                offset = start + size
                if mask & IN_MOVED_TO and wd in self._folders:
                    self.counts[self._folders[wd] / os.fsdecode(name)] += 1
