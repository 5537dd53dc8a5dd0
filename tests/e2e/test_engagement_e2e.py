"""In Chromium: a coordinator opens the engagement dashboard, sees its charts, follows an alert
to the pupil, acknowledges it, and downloads the home-school report (a PDF with the pupil's
subjects). Uses the demo's past weeks (``classbridge demo``: Leo drifts).

Screenshots of the dashboard, the pupil's page and the report at phone, tablet and desktop
sizes are written to ``$CLASSBRIDGE_SHOTS`` (default: the test's temporary directory).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from live_server import AUDIT_JS, LiveServer, Tab, sign_in
from playwright.sync_api import Page, expect
from pypdf import PdfReader

pytestmark = pytest.mark.e2e

VIEWPORTS = {"phone": (390, 844), "tablet": (820, 1180), "desktop": (1366, 900)}


def _shots(page: Page, outdir: Path, name: str) -> None:
    """Screenshots at each size; the page must read well at each (no sideways scroll, 48 px
    targets, labelled fields, headings in order)."""
    for label, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(outdir / f"{name}-{label}.png"), full_page=True)
        assert page.evaluate(AUDIT_JS) == [], f"{name} at {label}"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_coordinator_follows_an_alert_and_sends_the_report(
    live_server: LiveServer, open_tab: Callable[[], Tab], tmp_path: Path
) -> None:
    outdir = Path(os.environ.get("CLASSBRIDGE_SHOTS", str(tmp_path)))
    outdir.mkdir(parents=True, exist_ok=True)
    tab = open_tab()
    page = tab.page
    sign_in(page, live_server, "coordinator")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Engagement")
    charts = page.locator("main svg[role='img'], main svg[role='group']")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 5  # sparklines, weeks, subjects, moves, robots
    # Bars link to their records: weeks, each school's moves, each robot's page.
    expect(page.locator("main svg[role='group']")).to_have_count(3)
    weeks = page.locator("svg.week-chart")
    expect(weeks).to_have_count(1)
    expect(weeks.locator(":scope > title")).to_have_text("Share of booked time attended per week")
    expect(weeks.locator("rect").first).to_be_visible()
    drifting = page.locator("section", has=page.get_by_role("heading", name="Who is drifting"))
    expect(drifting).to_contain_text("Leo Murphy")
    _shots(page, outdir, "engagement-dashboard")

    drifting.get_by_role("link", name="Leo Murphy").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Leo Murphy")
    expect(page.get_by_role("main")).to_contain_text("Missed")
    _shots(page, outdir, "engagement-pupil")

    page.get_by_role("link", name="Acknowledge or resolve").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Leo Murphy")
    page.get_by_label("Note").fill("Rang Leo's mum; lessons from Monday")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("dl")).to_contain_text("acknowledged")

    page.get_by_role("link", name="See Leo Murphy's engagement").click()
    page.get_by_role("link", name="Home-school report").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("engagement report")
    page.get_by_role("textbox", name="Note").fill("Leo has kept up his Maths homework.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("blockquote.note")).to_contain_text("kept up his Maths homework")
    subjects = page.locator("table.report-table tbody td:first-child").all_inner_texts()
    assert "Maths" in subjects
    _shots(page, outdir, "engagement-report")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    body = Path(download.value.path()).read_bytes()
    assert body.startswith(b"%PDF")
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages).split())
    assert "Leo Murphy" in text
    for subject in subjects:
        assert subject in text
    assert "Leo has kept up his Maths homework." in text

    # A robot's bar is a link a keyboard reaches, shows focus on and opens.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    robots = page.locator(
        "svg[role='group']", has=page.locator(":scope > title", has_text="Robot utilisation")
    )
    first = robots.get_by_role("link").first
    name = first.get_attribute("aria-label") or ""
    first.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard: :focus-visible
    stroke = first.locator("rect.hit").evaluate("r => getComputedStyle(r).stroke")
    assert stroke == "rgb(255, 183, 3)", stroke
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/devices/\w+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(name.split(":")[0])
    assert tab.problems == []
