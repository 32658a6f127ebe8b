"""The page's layout in real Chromium at 1400 and 800 px, and what operators look at first.

At both widths, with the file detail open: the page never scrolls sideways (the grid scrolls
inside its card), the last site column can be scrolled into view inside the grid's card and
is not under the detail panel, and timestamps in "All keys" stay on one line. The app serves
its own icon at `/favicon.ico`. Each site card charts its last hour (throughput and backlog,
SVG drawn by the page's script, nothing fetched elsewhere) from the samples the store
writes as the reconciler delivers, and "Errors only" narrows the grid to files in error.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Tracker
from tests.web.test_page_browser import (
    DELIVERY_WAIT_MS,
    csp_violations,
    publish_api,
    row,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.ssh]
EXTRA_VOLUMES = ("london", "montreal", "sydney", "vancouver")  # disabled: columns only
FAILED = "/shots/s050_failed_with_a_rather_long_name_to_widen_the_file_column_v0012.exr"

# Measured in the page: the page's own overflow, the grid card and its last column (with the
# card scrolled to its right end), the detail panel, a timestamp of "All keys".
MEASURE = """
() => {
  const box = (node) => {
    if (!node || node.hidden) return null;
    const r = node.getBoundingClientRect();
    return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
  };
  const wrap = document.querySelector(".table-wrap");
  wrap.scrollLeft = wrap.scrollWidth;
  const heads = document.querySelectorAll("#grid-head th");
  const stamp = document.querySelector("#detail-keys .ts");
  const detail = document.getElementById("detail");
  // What sticks out of the viewport, to say why when the page does scroll sideways.
  const wide = [...document.querySelectorAll("body *")]
    .filter((n) => n.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 5).map((n) => n.tagName + "." + n.className);
  return {
    wide,
    detailFits: detail.hidden || detail.scrollWidth <= detail.clientWidth + 1,
    pageWidth: document.scrollingElement.scrollWidth,
    viewport: window.innerWidth,
    wrap: box(wrap),
    wrapScrolls: getComputedStyle(wrap).overflowX,
    last: box(heads[heads.length - 1]),
    lastText: heads[heads.length - 1].textContent,
    detail: box(detail),
    stampWrap: stamp ? getComputedStyle(stamp).whiteSpace : null,
    stampLines: stamp ? stamp.getClientRects().length : null,
    stampHeight: stamp ? stamp.getBoundingClientRect().height : null,
    lineHeight: stamp ? parseFloat(getComputedStyle(stamp).lineHeight) : null,
  };
}
"""


def add_volumes(tracker: Tracker) -> None:
    docs = [
        {"_id": f"volume/{name}", "name": name, "url": f"/nonexistent/{name}/", "enabled": False}
        for name in EXTRA_VOLUMES
    ]
    reply = tracker.admin.post("/api/create/", json=docs)
    assert reply.status_code == 201, reply.text


def publish_files(tracker: Tracker) -> None:
    now = int(time.time() * 1000)
    for i in range(6):
        publish_api(
            tracker,
            "alice",
            {"_id": f"/shots/s0{i}0_plate.exr", "origin": "paris", "comment": f"take {i}"},
        )
    publish_api(tracker, "alice", {"_id": FAILED, "origin": "paris", "comment": "failed"})
    keys = {"syncError_tokyo": 23, "syncLastAttempt_tokyo": now}
    reply = tracker.admin.put("/api/update/", json={"_id": FAILED, **keys})
    assert reply.status_code == 200, reply.text


def check_layout(page: Page, width: int) -> dict[str, Any]:
    m: dict[str, Any] = page.evaluate(MEASURE)
    assert m["viewport"] == width
    assert m["pageWidth"] <= m["viewport"], f"the page scrolls sideways: {m}"
    assert m["wrapScrolls"] in ("auto", "scroll")
    assert m["lastText"] == "vancouver"
    wrap, last = m["wrap"], m["last"]
    assert wrap["right"] <= m["viewport"] + 0.5, m
    assert wrap["left"] - 0.5 <= last["left"] and last["right"] <= wrap["right"] + 0.5, m
    detail = m["detail"]
    beside = detail and detail["top"] < wrap["bottom"] and detail["bottom"] > wrap["top"]
    if beside:  # side by side: the detail panel must not cover the grid's card
        assert wrap["right"] <= detail["left"] + 0.5, m
    assert m["detailFits"], f"the detail panel scrolls sideways: {m}"
    assert m["stampWrap"] == "nowrap", m
    assert m["stampLines"] == 1 and m["stampHeight"] <= m["lineHeight"] * 1.5, m
    return m


@pytest.mark.parametrize("width", [1400, 800])
def test_layout_at_width_with_the_detail_open(
    tracker: Tracker, browser: Any, screenshots: Path, width: int
) -> None:
    add_volumes(tracker)
    publish_files(tracker)
    icon = tracker.admin.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")

    page = sign_in(browser, tracker, "alice", width)
    assert page.locator('link[rel="icon"]').get_attribute("href", timeout=1000)
    expect(page.locator("#grid-head th.site-col")).to_have_count(3 + len(EXTRA_VOLUMES))
    expect(row(page, FAILED)).to_be_visible()
    page.locator(f'button.path[data-open="{FAILED}"]').click()
    expect(page.locator("#detail-title")).to_have_text(FAILED)
    expect(page.locator("#detail-keys .ts").first).to_be_visible()
    measured = check_layout(page, width)
    if width <= 900:  # narrow: the detail stacks below the files, full width
        assert measured["detail"]["top"] >= measured["wrap"]["bottom"], measured
    page.evaluate("document.querySelector('.table-wrap').scrollLeft = 0")
    page.screenshot(path=str(screenshots / f"layout-{width}.png"), full_page=True)
    page.keyboard.press("Escape")
    expect(page.locator("#detail")).to_be_hidden()
    m = page.evaluate(MEASURE)
    assert m["pageWidth"] <= m["viewport"], m
    assert csp_violations(page) == []
    page.context.close()


def test_site_charts_and_errors_only(tracker: Tracker, browser: Any, screenshots: Path) -> None:
    paris = tracker.sites["paris"]
    (paris.root / "shots").mkdir()
    names = [f"/shots/s{i:02d}0_comp.exr" for i in range(1, 4)]
    for i, file_id in enumerate(names):
        (paris.root / file_id.lstrip("/")).write_bytes(b"x" * (20_000 * (i + 1)))
        publish_api(tracker, "alice", {"_id": file_id, "origin": "paris", "comment": "cut"})
    publish_api(tracker, "alice", {"_id": FAILED, "origin": "paris", "comment": "failed"})
    now = int(time.time() * 1000)
    keys = {"syncError_tokyo": 23, "syncLastAttempt_tokyo": now}
    assert tracker.admin.put("/api/update/", json={"_id": FAILED, **keys}).status_code == 200

    page = sign_in(browser, tracker, "gina", 1400)
    tokyo = page.locator('#sites li[data-site="tokyo"]')
    # Before any delivery: a backlog, no throughput.
    expect(tokyo.locator("svg.chart-backlog")).to_have_attribute("data-last", "4")
    expect(tokyo.locator("svg.chart-throughput")).to_have_attribute("data-total", "0")
    expect(tokyo.locator("svg.chart-backlog")).to_have_attribute("role", "img")

    # Errors only: the grid keeps the failed file alone, and says so.
    expect(page.locator("#grid-body tr[data-id]")).to_have_count(4)
    page.get_by_label("Errors only").check()
    expect(page.locator("#grid-body tr[data-id]")).to_have_count(1)
    expect(row(page, FAILED).locator('td[data-site="tokyo"]')).to_have_attribute(
        "data-state", "error"
    )

    # Paris emits, the hub and tokyo receive: their charts show what arrived.
    reply = tracker.admin.put("/api/update/", json={"_id": "volume/paris", "enableEmission": True})
    assert reply.status_code == 200, reply.text
    expected = sum(20_000 * (i + 1) for i in range(len(names)))
    expect(tokyo.locator("svg.chart-throughput")).to_have_attribute(
        "data-total", str(expected), timeout=DELIVERY_WAIT_MS
    )
    hub = page.locator('#sites li[data-site="hub"]')
    expect(hub.locator("svg.chart-throughput")).to_have_attribute(
        "data-total", str(expected), timeout=DELIVERY_WAIT_MS
    )
    # The failed file waits for its retry: it is tokyo's whole backlog.
    expect(tokyo.locator("svg.chart-backlog")).to_have_attribute(
        "data-last", "1", timeout=DELIVERY_WAIT_MS
    )
    expect(tokyo.locator("svg.chart-throughput rect.bar")).not_to_have_count(0)
    expect(tokyo.locator("svg.chart-backlog polyline")).to_have_count(1)
    expect(tokyo.locator(".spark-title")).to_have_text("Last hour")
    expect(tokyo.locator("svg.chart-throughput")).to_have_attribute(
        "aria-label", re.compile(r"^Throughput, last hour: 3 files, 117\.2 KiB, peak ")
    )
    page.get_by_label("Errors only").uncheck()
    expect(page.locator("#grid-body tr[data-id]")).to_have_count(4)
    page.get_by_label("Errors only").check()
    expect(page.locator("#grid-body tr[data-id]")).to_have_count(1)
    page.screenshot(path=str(screenshots / "charts.png"))
    assert csp_violations(page) == []
    page.context.close()
