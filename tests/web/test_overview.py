"""The colour of a site card, as data: enabled, reachability, file errors, last runs."""

from __future__ import annotations

from typing import Any

import pytest

from api.web.overview import SiteStatus, site_status

CASES = [
    ("disabled wins", {"exit_scan": 255}, False, 3, False, SiteStatus.DISABLED),
    ("reachable, clean", {"exit_scan": 0, "exit_reception": 0}, True, 0, True, SiteStatus.OK),
    ("unreachable", {}, True, 0, False, SiteStatus.ERROR),
    ("files in error", {}, True, 2, True, SiteStatus.ERROR),
    ("last emission failed", {"exit_emission": 23}, True, 0, True, SiteStatus.ERROR),
    ("never contacted", {}, True, 0, None, SiteStatus.UNKNOWN),
]


@pytest.mark.parametrize(
    ("doc", "enabled", "errors", "up", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_site_status(
    doc: dict[str, Any], enabled: bool, errors: int, up: bool | None, expected: SiteStatus
) -> None:
    assert site_status(doc, enabled=enabled, errors=errors, up=up) is expected
