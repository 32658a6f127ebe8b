"""What one grid cell shows, as data: file document + row flag -> state and details."""

from __future__ import annotations

from typing import Any

import pytest

from api.web.cells import CellState, cell

T = 1_700_000_000_000
BASE: dict[str, Any] = {"_id": "/a.exr", "origin": "paris", "time": T}

CASES = [
    # (id, extra keys, site, wanted, expected state, held)
    ("origin copy", {}, "paris", True, CellState.SYNCED, True),
    ("delivered after time", {"synced_tokyo": T + 5}, "tokyo", True, CellState.SYNCED, True),
    ("delivered at time", {"synced_tokyo": T}, "tokyo", True, CellState.SYNCED, True),
    ("older copy", {"synced_tokyo": T - 1}, "tokyo", True, CellState.OUTDATED, True),
    ("never delivered", {}, "tokyo", True, CellState.MISSING, False),
    ("transfer running", {"syncing_tokyo": T + 1}, "tokyo", True, CellState.SYNCING, False),
    ("failed", {"syncError_tokyo": 23, "syncLastAttempt_tokyo": T + 9}, "tokyo", True,
     CellState.ERROR, False),
    ("not wanted, no row", {}, "tokyo", None, CellState.UNWANTED, False),
    ("not wanted, copy held", {"synced_tokyo": T}, "tokyo", False, CellState.UNWANTED, True),
    ("hub delivered", {"synced_hub": T}, "hub", True, CellState.SYNCED, True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "site", "wanted", "state", "held"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_cell_state(
    extra: dict[str, Any], site: str, wanted: bool | None, state: CellState, held: bool
) -> None:
    got = cell({**BASE, **extra}, site, wanted=wanted)
    assert got.state is state
    assert got.held is held
    assert got.origin is (site == "paris")


def test_error_cell_carries_exit_code_and_last_attempt() -> None:
    doc = {**BASE, "syncError_tokyo": 255, "syncLastAttempt_tokyo": T + 9, "synced_tokyo": T - 7}
    got = cell(doc, "tokyo", wanted=True).as_json()
    assert got == {
        "state": "error",
        "origin": False,
        "held": True,
        "synced": T - 7,
        "syncing": None,
        "error": 255,
        "lastAttempt": T + 9,
    }
