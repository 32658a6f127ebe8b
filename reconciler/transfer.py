"""Running one batch on the hub host: rsync, then verification of what arrived.

Observe = command + pure parser: rsync prints one line per entry in our `--out-format`
(`reconciler.planning.OUT_FORMAT`), unchanged entries included (`--info=name2`), and
`parse_itemized` reads them back (undoing rsync's `\\#ooo` escaping). When rsync exits 0,
every reported entry arrived. When it fails for another reason than unreachability, what it
printed is not proof (in push mode the sender reports a file before the receiver commits
it), so the same command is re-run with `--dry-run`: an entry it would not transfer has the
same size and mtime on both sides, which is the verification of SPEC §5.
"""

from __future__ import annotations

import logging
import re
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache

from reconciler.domain import (
    RESERVED_DIR,
    Direction,
    InvalidId,
    check_file_id,
    is_package,
    is_unreachable,
    relpath,
)
from reconciler.planning import (
    OUT_MARKER,
    Endpoints,
    FileFacts,
    MergedOptions,
    files_from,
    rsync_argv,
    rsync_env,
    trash_stamp,
)
from reconciler.remote import Completed, HubShell, SiteUrl, SshSettings

UNREACHABLE = 255  # what a failed connection to the hub itself is recorded as
_ESCAPE = re.compile(rb"\\#([0-7]{3})")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ItemLine:
    """One entry of rsync's itemized output: `%i|%l|%M|%n`."""

    flags: str
    size: int
    mtime_ms: int | None
    name: str  # unescaped, relative to the transfer root; folders end with '/'

    @property
    def unchanged(self) -> bool:
        """Nothing to move: same size and mtime on both sides (the quick check passed)."""
        return self.flags[:1] == "."

    @property
    def moved(self) -> bool:
        return self.flags[:1] in ("<", ">")


def unescape(raw: bytes) -> str:
    """Undo rsync's `\\#ooo` escapes (a literal `\\#ooo` in a name comes as `\\#134#ooo`)."""
    return _ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), raw).decode(
        "utf-8", "surrogateescape"
    )


@lru_cache(maxsize=65536)  # a batch's files share few distinct mtimes; strptime is slow
def _mtime(text: str) -> int | None:
    try:
        moment = datetime.strptime(text, "%Y/%m/%d-%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(moment.timestamp()) * 1000


def parse_itemized(stdout: bytes) -> list[ItemLine]:
    """Our lines of rsync's stdout (rsync's own messages are skipped)."""
    marker = OUT_MARKER.encode()
    lines: list[ItemLine] = []
    for raw in stdout.split(b"\n"):
        if not raw.startswith(marker):
            continue
        parts = raw[len(marker) :].split(b"|", 3)
        if len(parts) != 4:
            continue
        flags, size, mtime, name = parts
        try:
            length = int(size.replace(b",", b"").decode())
        except ValueError:
            continue
        lines.append(
            ItemLine(
                flags.decode(errors="replace"),
                length,
                _mtime(mtime.decode(errors="replace")),
                unescape(name),
            )
        )
    return lines


def arrived(
    file_ids: Sequence[str], lines: Sequence[ItemLine], *, proof: str
) -> dict[str, FileFacts]:
    """Entries of the batch that rsync reported as arrived.

    `proof="reported"`: a line is enough (rsync exited 0). `proof="unchanged"`: the line of a
    dry run must say there is nothing left to move (for a package: the folder and every file
    directly inside it).
    """
    by_name = {line.name: line for line in lines}
    children: dict[str, list[ItemLine]] = {}
    for line in lines:
        parent, _, base = line.name.rstrip("/").rpartition("/")
        if base:
            children.setdefault(f"{parent}/" if parent else "", []).append(line)
    out: dict[str, FileFacts] = {}
    for file_id in file_ids:
        rel = relpath(file_id)
        if is_package(file_id):
            head = by_name.get(rel)
            inner = [c for c in children.get(rel, []) if not c.name.endswith("/")]
            group = [head, *inner] if head else []
        else:
            head = by_name.get(rel) or by_name.get(rel + "/")
            group = [head] if head else []
        if not group or (proof == "unchanged" and not all(g.unchanged for g in group)):
            continue
        files = [g for g in group if not g.name.endswith("/")] or group
        mtimes = [g.mtime_ms for g in files if g.mtime_ms is not None]
        out[file_id] = FileFacts(
            size=sum(g.size for g in files) if is_package(file_id) else files[0].size,
            mtime_ms=max(mtimes) if mtimes else None,
            sent_bytes=sum(g.size for g in files if g.moved),
        )
    return out


# ---- where things are --------------------------------------------------------------------


def endpoints(direction: Direction, hub: SiteUrl, volume: SiteUrl, ssh: SshSettings) -> Endpoints:
    """Emission pulls from the volume into the hub root; reception pushes from the hub."""
    vol = volume.rsync_location()
    rsh = None if volume.local else ssh.rsync_rsh(volume)
    if direction is Direction.EMISSION:
        return Endpoints(source=vol, dest=hub.path, dest_root=hub.path, rsh=rsh)
    return Endpoints(source=hub.path, dest=vol, dest_root=volume.path, rsh=rsh)


def on_hub_host(hub: SiteUrl) -> SiteUrl:
    """The hub's root as seen from the hub host, where commands run: a local path."""
    return SiteUrl(path=hub.path)


def site_command(url: SiteUrl, ssh: SshSettings, script: str) -> list[str]:
    """Run a shell snippet at a site from the hub host (paths in it are already quoted)."""
    if url.local:
        return ["sh", "-c", script]
    return [*ssh.ssh_argv(url), script]


def _run(
    shell: HubShell,
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> Completed:
    try:
        return shell.run(argv, stdin=stdin, env=env)
    except Exception as exc:  # the hub host itself failed us (Fabric/paramiko, OSError)
        return Completed(UNREACHABLE, b"", f"hub: {type(exc).__name__}: {exc}".encode())


def prepare_root(shell: HubShell, url: SiteUrl, ssh: SshSettings) -> Completed:
    """Create `.syncplanet/{partial,tmp,trash}` under an existing root.

    A missing root is an error, never created: an unmounted NAS must not be filled.
    """
    root = url.path
    reserved = f"{root}{RESERVED_DIR}"
    dirs = " ".join(shlex.quote(f"{reserved}/{d}") for d in ("partial", "tmp", "trash"))
    script = (
        f"if [ -d {shlex.quote(root)} ]; then mkdir -p -- {dirs}; "
        f"else echo {shlex.quote(f'volume root {root} does not exist')} >&2; exit 3; fi"
    )
    return _run(shell, site_command(url, ssh, script))


# ---- one batch --------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferOutcome:
    exit_code: int
    stderr: str
    arrived: Mapping[str, FileFacts]
    seconds: float
    attempted: bool = True  # False when nothing was run (empty batch)

    @property
    def unreachable(self) -> bool:
        return is_unreachable(self.exit_code)


def safe_ids(file_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ids into those rsync may see and those that break SPEC §3's path rules.

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


def run_batch(
    shell: HubShell,
    ssh: SshSettings,
    *,
    direction: Direction,
    hub: SiteUrl,
    volume: SiteUrl,
    file_ids: Sequence[str],
    options: MergedOptions,
    now: int,
) -> TransferOutcome:
    """Move `file_ids` one way with one rsync call and report which entries arrived."""
    started = time.monotonic()
    file_ids, refused = safe_ids(file_ids)
    if refused:  # never reached rsync: they come back as unverified, hence errored
        log.error("refusing %d file ids that break the path rules: %r", len(refused), refused[:5])
    if not file_ids:
        stderr = f"refused {len(refused)} invalid file ids" if refused else ""
        return TransferOutcome(0, stderr, {}, 0.0, attempted=False)
    ends = endpoints(direction, hub, volume, ssh)
    dest = on_hub_host(hub) if direction is Direction.EMISSION else volume
    prep = prepare_root(shell, dest, ssh)
    if prep.exit_code != 0:
        return TransferOutcome(prep.exit_code, prep.stderr_text, {}, time.monotonic() - started)
    stdin = files_from(file_ids)
    env = rsync_env(options)
    stamp = trash_stamp(now)
    argv = rsync_argv(file_ids=file_ids, ends=ends, options=options, stamp=stamp)
    done = _run(shell, argv, stdin=stdin, env=env)
    if done.exit_code == 0:
        got = arrived(file_ids, parse_itemized(done.stdout), proof="reported")
    elif is_unreachable(done.exit_code):
        got = {}
    else:
        check = rsync_argv(file_ids=file_ids, ends=ends, options=options, stamp=stamp, dry_run=True)
        again = _run(shell, check, stdin=stdin, env=env)
        ok = not is_unreachable(again.exit_code)
        got = arrived(file_ids, parse_itemized(again.stdout), proof="unchanged") if ok else {}
        # bytes moved come from the real run; the dry run only proves arrival
        moved = arrived(file_ids, parse_itemized(done.stdout), proof="reported")
        got = {
            f: FileFacts(facts.size, facts.mtime_ms, moved[f].sent_bytes if f in moved else 0)
            for f, facts in got.items()
        }
    return TransferOutcome(done.exit_code, done.stderr_text, got, time.monotonic() - started)


# ---- trash and connections -------------------------------------------------------------


def list_trash(shell: HubShell, url: SiteUrl, ssh: SshSettings) -> list[str]:
    trash = f"{url.path}{RESERVED_DIR}/trash"
    script = (
        f"if [ -d {shlex.quote(trash)} ]; then find {shlex.quote(trash)} -mindepth 1 "
        "-maxdepth 1 -type d -printf '%f\\0'; fi"
    )
    done = _run(shell, site_command(url, ssh, script))
    if done.exit_code != 0:
        return []
    return [n.decode("utf-8", "surrogateescape") for n in done.stdout.split(b"\0") if n]


def remove_trash(shell: HubShell, url: SiteUrl, ssh: SshSettings, names: Sequence[str]) -> int:
    """Delete trash folders by name; the exit code of `rm`."""
    if not names:
        return 0
    trash = f"{url.path}{RESERVED_DIR}/trash/"
    script = shlex.join(["rm", "-rf", "--", *(trash + n for n in names)])
    return _run(shell, site_command(url, ssh, script)).exit_code


# Jobs that may run at the same time for one volume each get their own ControlMaster
# sockets: two ssh clients racing to become the master of one path orphan one of them.
LANES = ("emission", "reception", "purge")


def lane(ssh: SshSettings, name: str) -> SshSettings:
    if not ssh.control_dir:
        return ssh
    return replace(ssh, control_dir=f"{ssh.control_dir}/{name}")


def lane_dirs(control_dir: str) -> list[str]:
    return [f"{control_dir}/{name}" for name in LANES]


def close_master(shell: HubShell, url: SiteUrl, ssh: SshSettings) -> None:
    """Stop the OpenSSH ControlMasters kept for a volume (they would linger otherwise)."""
    if url.local or not ssh.control_dir:
        return
    for settings in (ssh, *(lane(ssh, name) for name in LANES)):
        _run(shell, settings.ssh_argv(url, "-O", "exit"))
