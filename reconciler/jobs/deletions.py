"""propagateDeletions: move the copies of deleted files to trash on volumes that opt in.

When a scan finds a file gone from its origin it only marks it `deleted: true`; nothing is
removed anywhere. A volume with `propagateDeletions: true` then gets its copies moved to
`.syncplanet/trash/<timestamp>/` (purged later by the reconciler's trash purge): the store
lists them (`removal_queue`: deleted, held here, volume opts in), the volume's transport
moves a batch (`SiteTransport.move_to_trash`, one rsync run on the hub host per batch, see
`reconciler.transport.commands.trash_argv`) and, once moved, this volume's `synced_<site>`
key is removed, which takes the file off the queue. Files the transport could not move are
skipped for the rest of the pass; an unreachable volume stops the pass, and so does a
volume whose marker says it is not mounted (`reconciler.jobs.markers`): nothing is moved there.
"""

from __future__ import annotations

import logging

from reconciler.core.domain import synced_key
from reconciler.core.urls import InvalidUrl, parse_url
from reconciler.jobs.markers import ensure_mounted
from reconciler.jobs.runtime import Runtime
from reconciler.store.queue import removal_queue
from reconciler.transport.options import site_options

log = logging.getLogger(__name__)
BATCH = 1000


def propagate_deletions(rt: Runtime, volume: str) -> int:
    """Move copies of deleted files on `volume` to its trash; return how many were moved."""
    with rt.store.read() as tx:
        cfg = tx.config()
    vol = cfg.volumes.get(volume)
    if vol is None or not vol.enabled or not vol.propagate_deletions:
        return 0
    try:
        site = rt.site(parse_url(vol.url))
    except InvalidUrl as exc:
        log.error("propagateDeletions on %s: bad url: %s", volume, exc)
        return 0
    with rt.store.read() as tx:
        if not removal_queue(tx, volume, 1):
            return 0  # nothing to move: no need to reach the volume
    mount = ensure_mounted(rt, cfg, vol, site)
    if mount.verdict is None or mount.not_mounted:
        log.warning("propagateDeletions on %s: nothing moved: %s", volume, mount.message)
        return 0
    options, now = site_options(cfg, vol), rt.clock()  # one trash folder for the pass
    moved = 0
    skip: set[str] = set()
    errors: list[str] = []
    while True:
        with rt.store.read() as tx:
            queue = removal_queue(tx, volume, BATCH + len(skip))
        batch = [i for i in queue if i not in skip][:BATCH]
        if not batch:
            break
        outcome = site.move_to_trash(batch, options=options, now=now)
        errors += outcome.errors
        ok = outcome.moved
        if ok:
            with rt.store.write() as tx:
                tx.patch_many({i: {synced_key(volume): None} for i in ok})
        moved += len(ok)
        # each pass either takes files off the queue or skips more of them: it ends
        skip.update(set(batch) - set(ok))
        if outcome.unreachable:
            break
    if errors:
        log.warning("propagateDeletions on %s: %s", volume, "; ".join(errors[:5]))
    return moved
