"""In Chromium: the key worker runs a plan; the home school's contact sees only what is shared.

Screenshots of both pages at phone, tablet and desktop sizes are written to
``$CLASSBRIDGE_SHOTS`` (default: the test's temporary directory) for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from live_server import LiveServer, Tab, ok, sign_in
from playwright.sync_api import APIRequestContext, Page, expect

pytestmark = pytest.mark.e2e

VIEWPORTS = {"phone": (390, 844), "tablet": (820, 1180), "desktop": (1366, 900)}
PASSWORD = "a long school password"


def _pupil_id(api: APIRequestContext, first_name: str) -> str:
    pupils = ok(api.get("/api/pupils"))
    return next(p["id"] for p in pupils if p["first_name"] == first_name)


def _shots(page: Page, outdir: Path, name: str) -> None:
    for label, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(outdir / f"{name}-{label}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
        assert not overflow, f"{name} scrolls sideways at {label}"
    page.set_viewport_size({"width": 1280, "height": 900})


def _key_worker_runs_the_plan(page: Page, server: LiveServer, pupil_id: str) -> None:
    today = datetime.now(UTC).date()
    page.goto(server.url(f"/pupils/{pupil_id}/reintegration"))
    page.get_by_label("Starts on").fill(today.isoformat())
    page.get_by_label("Expected duration in weeks").fill("10")
    page.get_by_label("Review dates").fill((today + timedelta(weeks=3)).isoformat())
    page.get_by_role("button", name="Start the plan").click()
    expect(page.locator("#phase")).to_have_text("Remote lessons only")

    page.get_by_text("Record a review").click()
    page.get_by_label("Held on").fill(today.isoformat())
    page.get_by_role("group", name="Wants to be successful").get_by_label("Yes").check()
    page.get_by_role("group", name="Positive self-esteem").get_by_label("Partly").check()
    page.get_by_label("Decisions").fill("Try Monday mornings in school")
    page.get_by_role("button", name="Save review").click()
    expect(page.get_by_role("link", name=f"Review of {today:%d %b %Y}")).to_be_visible()

    page.get_by_label("Date", exact=True).fill(today.isoformat())
    page.get_by_label("Who", exact=True).fill("Ms Reed (SENCO)")
    page.get_by_label("What was said and agreed").fill("A quiet room at break")
    page.locator("form[action$='/contacts']").get_by_label("Share with the home school").check()
    page.get_by_label("Action 1").fill("Set up the quiet room")
    page.get_by_role("button", name="Save contact").click()
    expect(page.locator("#actions")).to_contain_text("Set up the quiet room")

    for text, shared in (("Internal: medication review", False), ("Shared: loves drama", True)):
        page.get_by_label("Note", exact=True).fill(text)
        if shared:
            page.locator("form[action$='/notes']").get_by_label(
                "Share with the home school"
            ).check()
        page.get_by_role("button", name="Save note").click()
        expect(page.locator("#timeline")).to_contain_text(text)

    page.get_by_label("Move to").select_option("phased_return")
    page.get_by_label("Monday").check()
    page.get_by_label("Thursday").check()
    page.get_by_role("button", name="Change phase").click()
    expect(page.locator("#phase")).to_have_text("Phased return")

    page.get_by_label("Move to").select_option("after_care")  # skips a phase: needs a reason
    page.get_by_role("button", name="Change phase").click()
    expect(page.get_by_role("alert")).to_contain_text("give a reason")
    expect(page.locator("#phase")).to_have_text("Phased return")

    page.goto(server.url(f"/pupils/{pupil_id}/reintegration?k=phase"))
    entries = page.locator("#timeline li")
    expect(entries).to_have_count(1)
    expect(entries).to_contain_text("Remote lessons only → Phased return")


def _contact_accepts_the_invitation(page: Page, server: LiveServer, link: str, email: str) -> None:
    page.goto(server.url(link))
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("The same again").fill(PASSWORD)
    page.get_by_role("button", name="Save password").click()
    page.wait_for_url("**/login**")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url("/school"))


def test_key_worker_plan_and_the_home_school_view(
    live_server: LiveServer,
    open_tab: Callable[[], Tab],
    api: APIRequestContext,
    tmp_path: Path,
) -> None:
    outdir = Path(os.environ.get("CLASSBRIDGE_SHOTS", str(tmp_path)))
    outdir.mkdir(parents=True, exist_ok=True)
    aisha, sam = _pupil_id(api, "Aisha"), _pupil_id(api, "Sam")
    staff = open_tab()
    sign_in(staff.page, live_server, "hospital_staff")
    _key_worker_runs_the_plan(staff.page, live_server, aisha)
    staff.page.goto(live_server.url(f"/pupils/{aisha}/reintegration"))
    _shots(staff.page, outdir, "reintegration-staff")

    email = f"head.{datetime.now(UTC):%H%M%S%f}@oakfield.example"
    invited = ok(
        api.post(
            f"/api/reintegration/pupils/{aisha}/school-contacts",
            data={"email": email, "name": "Ms Reed"},
        ),
        201,
    )
    school = open_tab()
    _contact_accepts_the_invitation(school.page, live_server, invited["invite_link"], email)
    page = school.page
    bullet = page.locator("ul.cards").evaluate("list => getComputedStyle(list).listStyleType")
    assert bullet == "none"  # each pupil is a card, not a bulleted card
    page.get_by_role("link", name="Aisha R.").click()
    expect(page.locator("#phase")).to_have_text("Phased return")
    main = page.get_by_role("main")
    expect(main).to_contain_text("Shared: loves drama")
    expect(main).to_contain_text("Monday, Thursday")  # days apart, not run together
    expect(main).not_to_contain_text("medication")
    expect(main).not_to_contain_text("Try Monday mornings")  # review decisions stay internal
    expect(main).not_to_contain_text("Wants to be successful")
    _shots(page, outdir, "reintegration-school")
    gap = page.evaluate(
        """() => { const [a, b] = document.querySelectorAll('.reintegration .grid');
        return b.getBoundingClientRect().top - a.getBoundingClientRect().bottom; }"""
    )
    assert gap >= 8, f"the plan's cards touch the contact form's ({gap} px apart)"
    page.get_by_role("button", name="Tick off").click()
    expect(page.locator("#actions")).to_contain_text("Done")
    assert school.problems == []
    refused = page.goto(live_server.url(f"/school/pupils/{sam}"))
    assert refused is not None
    assert refused.status == 404
    expect(page.get_by_role("main")).not_to_contain_text("Kowalski")
