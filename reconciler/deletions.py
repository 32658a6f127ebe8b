"""propagateDeletions: move the copies of deleted files to trash on volumes that opt in.

When a scan finds a file gone from its origin it only marks it `deleted: true`; nothing is
removed anywhere. A volume with `propagateDeletions: true` then gets its copies moved to
`.syncplanet/trash/<timestamp>/` (purged later by the reconciler's trash purge): the store
lists them (`removal_queue`: deleted, held here, volume opts in) and, once moved, this
volume's `synced_<site>` key is removed, which takes the file off the queue.

The move is one rsync run on the hub host per batch, from an empty folder holding only the
parent folders of the batch: `--delete-missing-args` deletes each listed file on the volume
and `--backup --backup-dir` turns every deletion into a move to trash; a package `/a/b/` is
listed as `a/b/` with `--dirs --delete`, which removes the files directly inside it while
`--filter='P */'` protects its sub-folders; `--existing` never creates anything. Names go
NUL-separated on stdin. A failed batch is split in halves so one bad file does not hold
back the others; an unreachable volume stops the pass.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from reconciler.config import SyncConfig, VolumeConfig
from reconciler.domain import RESERVED_DIR, is_unreachable, relpath, synced_key
from reconciler.planning import MergedOptions, merge_options, trash_stamp
from reconciler.remote import InvalidUrl, SiteUrl, parse_url
from reconciler.runtime import Runtime
from reconciler.store.queue import removal_queue

log = logging.getLogger(__name__)
BATCH = 1000


def parent_dirs(ids: Sequence[str]) -> list[str]:
    """Folders the empty source must hold: each file's folder, each package itself."""
    out: dict[str, None] = {}
    for file_id in ids:
        rel = relpath(file_id)
        folder = rel if rel.endswith("/") else rel[: rel.rfind("/") + 1]
        if folder:
            out[folder.rstrip("/")] = None
    return list(out)


def user_rsync_options(cfg: SyncConfig, volume: VolumeConfig) -> MergedOptions:
    """`rsync_args` / `rsync_env` by scope, merged as the transfers merge them."""
    scopes = [("global", cfg.globals.values)]
    if cfg.hub is not None:
        scopes.append((f"hub/{cfg.hub.name}", cfg.hub.values))
    scopes.append((f"volume/{volume.name}", volume.values))
    return merge_options(
        [
            (name, str(v.get("rsync_args") or ""), str(v.get("rsync_env") or ""))
            for name, v in scopes
        ]
    )


def trash_argv(
    user_args: Sequence[str], source: str, url: SiteUrl, rsh: str | None, stamp: str
) -> list[str]:
    """The rsync command moving the files named on stdin to the volume's trash."""
    argv = [
        "rsync", *user_args, "--no-recursive", "--dirs", "--protect-args", "--from0",
        "--files-from=-", "--existing", "--delete-missing-args", "--delete", "--filter=P */",
        "--backup", f"--backup-dir={RESERVED_DIR}/trash/{stamp}/",
    ]  # fmt: skip
    if rsh is not None:
        argv += ["-e", rsh]
    return [*argv, "--", source.rstrip("/") + "/", url.rsync_location()]


class _Mover:
    """Runs trash moves for one volume from one temporary empty source on the hub host."""

    def __init__(self, rt: Runtime, cfg: SyncConfig, volume: VolumeConfig, stamp: str) -> None:
        self.rt = rt
        self.url = parse_url(volume.url)
        options = user_rsync_options(cfg, volume)
        self.user_args, self.env = options.args, dict(options.env)
        self.rsh = None if self.url.local else rt.ssh.rsync_rsh(self.url)
        self.stamp = stamp
        self.unreachable = False
        self.errors: list[str] = []

    def move(self, ids: Sequence[str]) -> list[str]:
        """Move `ids` to trash; return those confirmed moved (or already absent)."""
        made = self.rt.shell.run(["mktemp", "-d"])
        if made.exit_code != 0:
            self.errors.append(f"mktemp on the hub host failed: {made.stderr_text.strip()}")
            return []
        source = made.stdout.decode().strip()
        try:
            dirs = parent_dirs(ids)
            if dirs:
                self.rt.shell.run(
                    ["sh", "-c", 'cd -- "$1" && xargs -0 mkdir -p --', "sh", source],
                    stdin=b"\0".join(d.encode() for d in dirs) + b"\0",
                )
            return self._run(list(ids), source)
        finally:
            self.rt.shell.run(["rm", "-rf", "--", source])

    def _run(self, ids: list[str], source: str) -> list[str]:
        if not ids or self.unreachable:
            return []
        argv = trash_argv(self.user_args, source, self.url, self.rsh, self.stamp)
        stdin = b"".join(relpath(i).encode() + b"\0" for i in ids)
        done = self.rt.shell.run(argv, stdin=stdin, env=self.env or None)
        if done.exit_code == 0:
            return ids
        if is_unreachable(done.exit_code):
            self.unreachable = True
        if self.unreachable or len(ids) == 1:
            self.errors.append(f"exit {done.exit_code}: {done.stderr_text.strip()[:500]}")
            return []
        half = len(ids) // 2
        return self._run(ids[:half], source) + self._run(ids[half:], source)


def propagate_deletions(rt: Runtime, volume: str) -> int:
    """Move copies of deleted files on `volume` to its trash; return how many were moved."""
    with rt.store.read() as tx:
        cfg = tx.config()
    vol = cfg.volumes.get(volume)
    if vol is None or not vol.enabled or not vol["propagateDeletions"]:
        return 0
    try:
        mover = _Mover(rt, cfg, vol, trash_stamp(rt.clock()))
    except InvalidUrl as exc:
        log.error("propagateDeletions on %s: bad url: %s", volume, exc)
        return 0
    moved = 0
    skip: set[str] = set()
    while not mover.unreachable:
        with rt.store.read() as tx:
            queue = removal_queue(tx.conn, volume, BATCH + len(skip))
        batch = [i for i in queue if i not in skip][:BATCH]
        if not batch:
            break
        ok = mover.move(batch)
        if ok:
            with rt.store.write() as tx:
                tx.patch_many({i: {synced_key(volume): None} for i in ok})
        moved += len(ok)
        # each pass either takes files off the queue or skips more of them: it ends
        skip.update(set(batch) - set(ok))
    if mover.errors:
        log.warning("propagateDeletions on %s: %s", volume, "; ".join(mover.errors[:5]))
    return moved
