"""Files holding secrets, created with their final mode: 0600 files in 0700 directories.

A file written first and chmod-ed after is readable by anyone between the two calls (and for
good if the process dies in between, or if chmod fails). Here the mode is given to open(2)
itself, so no other account ever sees the content: the JWT secret, the CLI's `tokens.json`,
the demo's `credentials.json` and the SQLite database (whose WAL and SHM files SQLite creates
with the database file's mode). The process umask can only make these modes stricter.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """Create `path` with mode 0700 when missing (missing parents get the usual mode).

    An existing directory is left as it is: it may be shared on purpose (`/tmp`, a project
    folder), and its owner chose its mode.
    """
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    return path


def _temporary(path: Path, text: str) -> Path:
    """A new 0600 file next to `path` holding `text` (same file system, so link/rename work)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically by a 0600 file holding `text` (readers see old or new)."""
    tmp = _temporary(path, text)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create_private(path: Path, text: str) -> bool:
    """Create `path` as a 0600 file holding `text` unless it exists; True if created.

    The content is complete before the name appears (link(2) of a written temporary file), so
    a process racing to create the same file reads either nothing or the whole of it.
    """
    tmp = _temporary(path, text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: exclusive create, then write
        return _create_exclusive(path, text)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _create_exclusive(path: Path, text: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return True


def touch_private(path: Path) -> None:
    """Create `path` as an empty 0600 file unless it exists (an empty file is a valid, empty
    SQLite database, so SQLite opens it and keeps its mode)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
    except FileExistsError:
        return
    os.close(fd)
