"""Staff import a timetable, preview it, book in bulk; the pupil's tablet then shows the lessons.

Runs at any hour on any day: the test makes its own school (through the admin
API) in a zone where it is mid-morning now, with a term around today and
every weekday a school day, and its own pupil with a robot; the timetable's
two lessons start a few minutes from now, today, in that zone. It shares
nothing with the other tests on the same server.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from live_server import LiveServer, Tab, ok, school_at_mid_morning, sign_in
from playwright.sync_api import APIRequestContext, expect

pytestmark = pytest.mark.e2e

PIN = "975310"
SUBJECTS = ("E2E Astronomy", "E2E Robotics")


def _lesson_times(now: datetime) -> list[tuple[str, str]]:
    """Two 30-minute lessons today, the first starting 5-6 minutes from now (local HH:MM)."""
    start = (now + timedelta(minutes=6)).replace(second=0, microsecond=0)
    times = []
    for _ in SUBJECTS:
        end = start + timedelta(minutes=30)
        assert end.date() == now.date()  # mid-morning in the school's zone
        times.append((f"{start:%H:%M}", f"{end:%H:%M}"))
        start = end + timedelta(minutes=5)
    return times


def _timetable_csv(now: datetime) -> bytes:
    rows = ["Week,Day,Start,End,Subject,Class,Teacher,Room"]
    for subject, (start, end) in zip(SUBJECTS, _lesson_times(now), strict=True):
        rows.append(f",{now:%a},{start},{end},{subject},10Y/E2E,Ms Test,M4")
    return ("\r\n".join(rows) + "\r\n").encode()


@dataclass(frozen=True)
class Pupil:
    name: str  # as staff see it in lists: first name and initial
    code: str
    zone: ZoneInfo


@pytest.fixture
def pupil(api: APIRequestContext) -> Pupil:
    """A pupil of the demo provider with a robot, at a school where it is mid-morning now."""
    tag = secrets.token_hex(3)
    school, zone = school_at_mid_morning(api, f"Timetable School {tag}")
    made = ok(
        api.post(
            "/api/pupils",
            data={"first_name": "Ivy", "last_name": f"Stone{tag}", "school_id": school["id"]},
        ),
        201,
    )
    ok(
        api.post(
            "/api/devices",
            data={
                "serial": f"E2E-TT-{tag}",
                "name": "Orbit",
                "model": "AV1",
                "kind": "robot",
                "school_id": school["id"],
                "pupil_id": made["id"],
            },
        ),
        201,
    )
    return Pupil("Ivy S.", made["pupil_code"], zone)


def test_staff_import_preview_bulk_book_and_the_pupil_sees_today(
    live_server: LiveServer, open_tab: Callable[[], Tab], pupil: Pupil
) -> None:
    staff = open_tab()
    page = staff.page
    sign_in(page, live_server, "hospital_staff")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Timetables").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Timetables")
    page.get_by_role("link", name=pupil.name).click()

    page.get_by_label("New PIN").fill(PIN)
    page.get_by_role("button", name="Set PIN").click()
    expect(page.get_by_role("status")).to_have_text("The new PIN is set.")

    now = datetime.now(pupil.zone)
    page.get_by_role("link", name="Import a timetable").click()
    page.get_by_label("Timetable export").set_input_files(
        {"name": "ivy.csv", "mimeType": "text/csv", "buffer": _timetable_csv(now)}
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview of ivy.csv")).to_be_visible()
    added = page.locator("#added-lessons")
    for subject in SUBJECTS:
        expect(added).to_contain_text(subject)
    expect(page.get_by_role("heading", name="Added (2)")).to_be_visible()
    page.get_by_role("button", name="Import this timetable").click()
    expect(page.get_by_role("status")).to_contain_text("The timetable is imported.")
    expect(page.locator("table.week-grid")).to_contain_text("E2E Astronomy")

    page.get_by_role("link", name="Book in bulk").click()
    for subject in SUBJECTS:
        page.get_by_label(subject).check()
    page.locator("#from").fill(now.date().isoformat())
    page.locator("#to").fill(now.date().isoformat())
    page.get_by_role("button", name="Book these lessons").click()
    expect(page.get_by_role("status")).to_have_text("Booked 2 lessons; skipped 0.")
    expect(page.locator("table").first).to_contain_text("E2E Robotics")
    assert staff.problems == []

    tablet = open_tab()
    child = tablet.page
    child.goto(live_server.url("/pupil-login"))
    child.get_by_label("Your pupil code").fill(pupil.code)
    child.get_by_label("Your PIN").fill(PIN)
    child.get_by_role("button", name="Let's go").click()
    child.wait_for_url(live_server.url("/today"))
    lessons = child.locator("ul.lessons")
    for subject, (start, end) in zip(SUBJECTS, _lesson_times(now), strict=True):
        expect(lessons).to_contain_text(subject)
        expect(lessons).to_contain_text(f"{start}\u2013{end}")
    assert tablet.problems == []
