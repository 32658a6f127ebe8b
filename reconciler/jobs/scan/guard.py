"""The deletion guard: a scan that would mark too many files deleted marks none (pure).

Like rclone's `--max-delete`: a share half unmounted, a sub-folder that is its own mount
gone missing, a bad exclude rule... look like a mass deletion. When a scan finds more files
gone from this origin than `maxDeletionsPerScan`, or than `maxDeletionsPercent` of the files
the volume is the origin of (global parameters, each overridable per volume, -1 = the
global value), it writes every other change but no deletion, records `deletionsHeld` (the
count) and `deletionsHeldReason` on the volume, and holds them until an operator runs
`spctl scan VOLUME --confirm-deletions`: that scan applies up to the count held (more, if
still more vanished since, are held again).
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.core.config import SyncConfig, VolumeConfig

HELD_KEY = "deletionsHeld"
REASON_KEY = "deletionsHeldReason"


@dataclass(frozen=True)
class DeletionLimits:
    max_files: int
    max_percent: int

    @classmethod
    def of(cls, cfg: SyncConfig, volume: VolumeConfig) -> DeletionLimits:
        """The volume's limits: its own where set (not -1), else the global parameters."""

        def pick(own: int, default: int) -> int:
            return own if own >= 0 else default

        g = cfg.globals
        return cls(
            pick(volume.max_deletions_per_scan, g.max_deletions_per_scan),
            pick(volume.max_deletions_percent, g.max_deletions_percent),
        )


def held_reason(
    volume: str, deletions: int, tracked: int, limits: DeletionLimits, *, confirmed: int = 0
) -> str | None:
    """Why `deletions` out of `tracked` files must be held, or None when they may go.

    `confirmed` is what an operator confirmed (the count held before): up to it, no limit."""
    if deletions <= confirmed:
        return None
    if deletions > limits.max_files:
        why = f"more than maxDeletionsPerScan ({limits.max_files})"
    elif deletions * 100 > limits.max_percent * tracked:
        why = f"more than maxDeletionsPercent ({limits.max_percent}%) of {tracked} files"
    else:
        return None
    return (
        f"{deletions} files gone from this origin: {why}; none marked deleted. If the deletion "
        f"is real, run `spctl scan {volume} --confirm-deletions`"
    )
