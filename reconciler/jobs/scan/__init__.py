"""Discovery: scanning volumes for new, modified and deleted files and packages
(architecture.md#the-loop).

The pipeline, one module per step: `listing` (the pure parser of the volume's listing) ->
`rules` and `packages` (what is tracked, and as what) -> `tracked` (the tracker's side, in
the same order) -> `compare` (pure decisions) -> `apply` (batched writes), driven by
`volume.scan_volume`. `reconciler.jobs.deletions.propagate_deletions` moves copies of deleted
files to trash on volumes that opt in; it is re-exported here.
"""

from __future__ import annotations

from reconciler.jobs.deletions import propagate_deletions
from reconciler.jobs.scan.volume import ScanReport, ScanStatus, scan_volume

__all__ = ["ScanReport", "ScanStatus", "propagate_deletions", "scan_volume"]
