"""A new school set up in pages, a timetable imported with a preview, a re-import that removes
a booked lesson, staff resolving the flagged booking, and no robot carried to it any more.

Makes its own school (Europe/London), pupil, rooms and robot through the admin API; the
lesson day is the next weekday, so the test runs on any day.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from live_server import LiveServer, Tab, ok, sign_in
from playwright.sync_api import APIRequestContext, Page, expect

pytestmark = pytest.mark.e2e

LONDON = ZoneInfo("Europe/London")
SIZES = {"phone": (390, 844), "tablet": (820, 1180), "desktop": (1366, 900)}


def _shots(page: Page, name: str) -> None:
    """With CLASSBRIDGE_SHOTS=/dir, the page at phone, tablet and desktop sizes; never wider."""
    folder = os.environ.get("CLASSBRIDGE_SHOTS")
    if not folder:
        return
    size = page.viewport_size
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=f"{folder}/{name}-{label}.png", full_page=True)
        assert not page.evaluate("document.documentElement.scrollWidth > innerWidth"), label
    if size:
        page.set_viewport_size(size)


def _next_weekday(today: date) -> date:
    day = today + timedelta(days=1)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return day


def _csv(day: date, *, with_geography: bool) -> bytes:
    rows = ["Week,Day,Period,Subject,Class,Teacher,Room"]
    if with_geography:
        rows.append(f",{day:%a},P1,E2E Geography,9X/Gg1,Mr Test,G1")
    rows.append(f",{day:%a},P2,E2E Music,9X/Mu1,Ms Test,Music")
    return ("\r\n".join(rows) + "\r\n").encode()


def _moves(api: APIRequestContext, school_id: str, day: date) -> list[str]:
    ok(api.post(f"/api/schools/{school_id}/rota/replan?date={day.isoformat()}"))
    rota = ok(api.get(f"/api/schools/{school_id}/rota?date={day.isoformat()}"))
    return [move["summary"] for move in rota["moves"]]


def test_a_new_school_in_pages_then_import_reimport_and_resolve(
    live_server: LiveServer, open_tab: Callable[[], Tab], api: APIRequestContext
) -> None:
    tag = secrets.token_hex(3)
    school = ok(api.post("/api/schools", data={"name": f"Setup School {tag}"}), 201)
    rooms = {
        name: ok(api.post(f"/api/schools/{school['id']}/rooms", data={"name": name}), 201)
        for name in ("Base", "G1", "Music")
    }
    pupil = ok(
        api.post(
            "/api/pupils",
            data={"first_name": "Ned", "last_name": f"Lake{tag}", "school_id": school["id"]},
        ),
        201,
    )
    robot = {
        "serial": f"E2E-SET-{tag}",
        "name": "Nimbus",
        "model": "AV1",
        "kind": "robot",
        "school_id": school["id"],
        "pupil_id": pupil["id"],
        "charging_base_room_id": rooms["Base"]["id"],
    }
    ok(api.post("/api/devices", data=robot), 201)
    spare = robot | {"serial": f"E2E-SET2-{tag}", "name": "Zephyr"}
    ok(api.post("/api/devices", data=spare), 201)
    today = datetime.now(LONDON).date()
    day = _next_weekday(today)

    staff = open_tab()
    page = staff.page
    sign_in(page, live_server, "hospital_staff")
    page.goto(live_server.url("/timetables"))
    page.get_by_role("link", name=f"Setup School {tag}: calendar").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("school calendar")
    page.locator("#terms").fill(f"Term, {today - timedelta(days=7)}, {today + timedelta(days=60)}")
    page.locator("#bell_times").fill("P1, 09:00, 10:00\nP2, 10:20, 11:20")
    page.locator("#week_a_monday").fill(str(today - timedelta(days=today.weekday())))
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#check")).to_contain_text("Week A starts Mon")
    _shots(page, "calendar-check")
    page.get_by_role("button", name="Save calendar").click()
    expect(page.get_by_role("status")).to_contain_text("Calendar saved.")

    page.goto(live_server.url(f"/pupils/{pupil['id']}/timetable/import"))
    page.get_by_label("Timetable export").set_input_files(
        {"name": "ned.csv", "mimeType": "text/csv", "buffer": _csv(day, with_geography=True)}
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Added (2)")).to_be_visible()
    _shots(page, "import-preview-csv")
    page.get_by_role("button", name="Import this timetable").click()
    expect(page.get_by_role("status")).to_contain_text("The timetable is imported.")
    expect(page.get_by_label("Book with robot")).to_be_visible()
    _shots(page, "week-robot-choice")

    page.get_by_role("link", name="Book in bulk").click()
    page.get_by_label("E2E Geography").check()
    page.locator("#from").fill(day.isoformat())
    page.locator("#to").fill(day.isoformat())
    page.get_by_role("button", name="Book these lessons").click()
    expect(page.get_by_role("status")).to_contain_text("Booked 1 lesson; skipped 0.")
    _shots(page, "bulk-booked")
    assert any("to G1" in move for move in _moves(api, school["id"], day))

    page.goto(live_server.url(f"/pupils/{pupil['id']}/timetable/import"))
    page.get_by_label("Timetable export").set_input_files(
        {"name": "ned.csv", "mimeType": "text/csv", "buffer": _csv(day, with_geography=False)}
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Removed (1)")).to_be_visible()
    page.get_by_role("button", name="Import this timetable").click()
    assert not any("G1" in move for move in _moves(api, school["id"], day))

    page.goto(live_server.url("/timetables"))
    flagged = page.locator("#flagged")
    expect(flagged).to_contain_text("E2E Geography")
    _shots(page, "timetables-flagged")
    flagged.get_by_role("button", name="Cancel E2E Geography").click()
    expect(page.get_by_role("status")).to_contain_text("The booking is cancelled")
    assert not any("G1" in move for move in _moves(api, school["id"], day))
    assert staff.problems == []
