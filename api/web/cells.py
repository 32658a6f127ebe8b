"""What one cell of the file x site grid shows (architecture.md#file-keys): purely computational.

A cell is the state of one file on one site, as the page draws it: synced (green), outdated
(yellow), syncing (blue), error (red, with the exit code and the last attempt), missing
(empty) or not wanted there (grey). The inputs are the file document and, when the store
keeps one, the file's `file_sites` row for that site; no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.core.desired import site_state
from reconciler.core.domain import (
    SiteState,
    as_number,
    error_key,
    last_attempt_key,
    synced_key,
    syncing_key,
)


class CellState(StrEnum):
    SYNCED = "synced"
    OUTDATED = "outdated"
    SYNCING = "syncing"
    ERROR = "error"
    MISSING = "missing"
    UNWANTED = "unwanted"


@dataclass(frozen=True)
class Cell:
    state: CellState
    origin: bool  # this site holds the authoritative copy
    held: bool  # a copy is there (the origin's, or one delivered once), wanted or not
    synced: int | None  # ms of the last delivery here
    syncing: int | None  # ms the running transfer started
    error: int | None  # exit status of the last failed attempt
    last_attempt: int | None  # ms of the last failed attempt

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "origin": self.origin,
            "held": self.held,
            "synced": self.synced,
            "syncing": self.syncing,
            "error": self.error,
            "lastAttempt": self.last_attempt,
        }


def _ms(doc: Mapping[str, Any], key: str) -> int | None:
    value = as_number(doc.get(key))
    return int(value) if value is not None else None


def cell(doc: Mapping[str, Any], site: str, *, wanted: bool | None) -> Cell:
    """The cell of `doc` on `site`; `wanted` is the row's flag, None when there is no row.

    No row means the store decided the site neither wants nor holds the file
    (architecture.md#desired-state): grey. A row that is not wanted but still holds a copy is grey
    too, with `held` set.
    """
    state = site_state(doc, site)
    synced = _ms(doc, synced_key(site))
    held = state is SiteState.SYNCED or synced is not None
    shown = CellState(state.value) if wanted else CellState.UNWANTED
    return Cell(
        state=shown,
        origin=doc.get("origin") == site,
        held=held,
        synced=synced,
        syncing=_ms(doc, syncing_key(site)),
        error=_ms(doc, error_key(site)),
        last_attempt=_ms(doc, last_attempt_key(site)),
    )
