"""Every command line the transports run, built without running it (purely computational).

- `rsync_argv`: one batch (`--files-from=-`, NUL-separated on stdin, `--protect-args`), with
  the user options `reconciler.transport.options` admitted, then the reconciler's own options
  (partial and temp folders, `--backup-dir` trash, our itemized `--out-format`), then `--` and
  the two locations: nothing after it can be read as an option.
- `trash_argv`: the rsync run that moves the files named on stdin to a site's trash.
- shell snippets run at a site (`sh -c` there): prepare the reserved folders, list and remove
  trash folders, probe the root, read and write the volume marker, and the listing
  (`find | sort`) the scans parse.
Paths only ever reach a shell through `shlex` quoting; `at_site` wraps a snippet for the
hub host (`sh -c`) or for an `ssh://` site (`ssh ... -- host 'snippet'`).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.core.domain import RESERVED_DIR, is_package, relpath
from reconciler.core.urls import SiteUrl
from reconciler.transport.options import MergedOptions
from reconciler.transport.ssh import SshSettings

# Output lines of ours start with this, so rsync's own messages (-v) are never mistaken.
OUT_MARKER = "SPF:"
OUT_FORMAT = f"{OUT_MARKER}%i|%l|%M|%n"
SORT_ARGV = ("env", "LC_ALL=C", "sort", "-z", "-t", "/", "-k", "3")


# ---- transfers -----------------------------------------------------------------------------


def files_from(file_ids: Sequence[str]) -> bytes:
    """rsync's `--files-from=- --from0` input: NUL-separated paths relative to the root."""
    return b"".join(relpath(f).encode("utf-8", "surrogateescape") + b"\0" for f in file_ids)


def _glob_escape(text: str) -> str:
    # rsync filter patterns with a wildcard treat backslash as the escape character.
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def package_excludes(file_ids: Sequence[str]) -> list[str]:
    """One rule per package: its sub-folders stay behind (packages are not recursive)."""
    return [f"--exclude=/{_glob_escape(relpath(f))}*/" for f in file_ids if is_package(f)]


@dataclass(frozen=True)
class Endpoints:
    """Source and destination as rsync names them, and the destination root's path."""

    source: str  # `host:/root/` or `/root/`
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
        f"--partial-dir={ends.dest_root}{RESERVED_DIR}/partial",
        # temp files out of the tree: a receiver killed mid-file leaves nothing a scan sees
        f"--temp-dir={ends.dest_root}{RESERVED_DIR}/tmp",
        "--backup",
        f"--backup-dir={ends.dest_root}{RESERVED_DIR}/trash/{stamp}",
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


def trash_argv(
    user_args: Sequence[str], source: str, location: str, rsh: str | None, stamp: str
) -> list[str]:
    """The rsync command moving the files named on stdin to trash at `location`.

    From an empty `source` folder holding only the parents of the batch:
    `--delete-missing-args` deletes each listed file, `--backup --backup-dir` turns every
    deletion into a move to trash, a package `a/b/` is listed with `--dirs --delete` (its
    files go, `--filter='P */'` protects its sub-folders), `--existing` creates nothing."""
    argv = [
        "rsync", *user_args, "--no-recursive", "--dirs", "--protect-args", "--from0",
        "--files-from=-", "--existing", "--delete-missing-args", "--delete", "--filter=P */",
        "--backup", f"--backup-dir={RESERVED_DIR}/trash/{stamp}/",
    ]  # fmt: skip
    if rsh is not None:
        argv += ["-e", rsh]
    return [*argv, "--", source.rstrip("/") + "/", location]


def parent_dirs(ids: Sequence[str]) -> list[str]:
    """Folders the empty source must hold: each file's folder, each package itself."""
    out: dict[str, None] = {}
    for file_id in ids:
        rel = relpath(file_id)
        folder = rel if rel.endswith("/") else rel[: rel.rfind("/") + 1]
        if folder:
            out[folder.rstrip("/")] = None
    return list(out)


# Run on the hub host around a trash move: an empty source folder holding the parents.
MKTEMP_ARGV = ("mktemp", "-d")
MKDIRS_ARGV = ("sh", "-c", 'cd -- "$1" && xargs -0 mkdir -p --', "sh")


def remove_argv(*paths: str) -> list[str]:
    return ["rm", "-rf", "--", *paths]


# ---- snippets run at a site ----------------------------------------------------------------


def at_site(url: SiteUrl, ssh: SshSettings, script: str) -> list[str]:
    """Run a shell snippet at a site from the hub host (paths in it are already quoted)."""
    if url.local:
        return ["sh", "-c", script]
    return [*ssh.ssh_argv(url), script]


MISSING_ROOT_EXIT = 3


def _if_root(root: str, then: str) -> str:
    """Run `then` only in an existing root: a missing root is an error, never created (an
    unmounted NAS must not be filled; rsync would make its destination folder)."""
    missing = shlex.quote(f"volume root {root} does not exist")
    return (
        f"if [ -d {shlex.quote(root)} ]; then {then}; "
        f"else echo {missing} >&2; exit {MISSING_ROOT_EXIT}; fi"
    )


def prepare_script(root: str) -> str:
    """Create `.syncplanet/{partial,tmp,trash}` under an existing root."""
    reserved = f"{root}{RESERVED_DIR}"
    dirs = " ".join(shlex.quote(f"{reserved}/{d}") for d in ("partial", "tmp", "trash"))
    return _if_root(root, f"mkdir -p -- {dirs}")


def probe_script(root: str) -> str:
    """Exit 0 if the root is an existing folder (the site answers and is mounted)."""
    return _if_root(root, "exit 0")


MARKER_FILE = f"{RESERVED_DIR}/volume.json"  # the volume marker, in the root


def read_marker_script(root: str) -> str:
    """Print the root's volume marker (nothing when there is none) in an existing root."""
    marker = shlex.quote(f"{root}{MARKER_FILE}")
    return _if_root(root, f"if [ -f {marker} ]; then cat -- {marker}; fi")


def write_marker_script(root: str, *, replace: bool) -> str:
    """Write stdin as the volume marker of an existing root: `replace` swaps it atomically
    (temp + rename); otherwise it is only created if absent (noclobber, so of two workers
    making first contact at once, one marker wins and both read the same one back)."""
    reserved = shlex.quote(f"{root}{RESERVED_DIR}")
    marker = f"{root}{MARKER_FILE}"
    tmp, final = shlex.quote(f"{marker}.tmp"), shlex.quote(marker)
    write = f"cat > {tmp} && mv -f -- {tmp} {final}" if replace else f"(set -C; cat > {final})"
    return _if_root(root, f"mkdir -p -- {reserved} && {write}")


def list_trash_script(root: str) -> str:
    """The names of the trash folders, NUL-terminated (none when there is no trash yet)."""
    trash = shlex.quote(f"{root}{RESERVED_DIR}/trash")
    find = f"find {trash} -mindepth 1 -maxdepth 1 -type d -printf '%f\\0'"
    return f"if [ -d {trash} ]; then {find}; fi"


def remove_trash_script(root: str, names: Sequence[str]) -> str:
    trash = f"{root}{RESERVED_DIR}/trash/"
    return shlex.join(remove_argv(*(trash + n for n in names)))


# ---- the listing a scan parses -------------------------------------------------------------


def find_argv(root: str) -> list[str]:
    """`find` listing every regular file under `root`, `.syncplanet` folders pruned."""
    return [
        "env", "LC_ALL=C", "find", root, "-mindepth", "1",
        "-name", RESERVED_DIR, "-prune", "-o",
        "-type", "f", "-printf", "%s/%T@/%P\\0",
    ]  # fmt: skip


def listing_script(root: str) -> str:
    """POSIX sh: `find | sort`, exiting non-zero if either failed (no `pipefail` in sh):
    with find's status when find fails, with sort's when sort fails, so a partial listing is
    never mistaken for a complete one. Every `.syncplanet` folder is pruned, at any depth.

    Records are NUL-terminated `SIZE/MTIME/PATH`, sorted in byte order of PATH
    (`LC_ALL=C sort -z` on "field 3 to the end" with `/` as separator)."""
    find = shlex.join(find_argv(root))
    sort = shlex.join(SORT_ARGV)
    return (
        "exec 4>&1; "
        f'f=$( {{ {{ {find}; echo "$?" >&3; }} | {sort} >&4; }} 3>&1 ); s=$?; '
        '[ "$s" = 0 ] || exit "$s"; [ "$f" = 0 ] || exit "${f:-125}"; exit 0'
    )


def listing_argv(url: SiteUrl, ssh: SshSettings) -> list[str]:
    """The argument vector run on the hub host to list the volume at `url`."""
    command = ["sh", "-c", listing_script(url.path)]
    if url.local:
        return command
    return [*ssh.ssh_argv(url), shlex.join(command)]
