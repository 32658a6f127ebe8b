"""The page's "Reconciler workers" table in real headless Chromium against `spctl run`.

`spctl run` is one reconciler worker: the table shows it as `GET /api/workers` does (host,
pid, start time, a heartbeat seconds ago, the jobs it holds, its leased files), kept fresh by
the page's live refresh, under the strict Content-Security-Policy without a violation.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import Tracker
from tests.web.test_page_browser import csp_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.ssh]


def test_the_page_lists_the_reconciler_workers(browser: Any, tracker: Tracker) -> None:
    workers = tracker.admin.get("/api/workers").json()
    assert len(workers) == 1, workers
    (worker,) = workers
    page = sign_in(browser, tracker, "gina")  # a guest reads it too
    rows = page.locator("#workers tr[data-worker]")
    expect(rows).to_have_count(1)
    cells = rows.first.locator("td")
    expect(cells).to_have_count(6)
    expect(rows.first).to_have_attribute("data-worker", worker["worker"])
    expect(cells.nth(0)).to_have_text(worker["host"])
    expect(cells.nth(1)).to_have_text(str(worker["pid"]))
    expect(cells.nth(2)).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"))
    expect(cells.nth(3)).to_have_text(re.compile(r"^\d+ s ago$"))
    expect(cells.nth(5)).to_have_text(re.compile(r"^\d+$"))
    assert page.get_by_role("columnheader", name="Jobs held").is_visible()
    assert csp_violations(page) == []
    page.context.close()
