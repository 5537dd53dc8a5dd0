"""Staff import a timetable, preview it, book in bulk; the pupil's tablet then shows the lessons.

Runs on any day: if the demo calendar says today is a weekend or a holiday,
the test first makes today a school day through the calendar API (as staff
would for a special day), and the timetable's two lessons start a few minutes
from now, today, in the school's zone. Uses Leo (LEOM59, robot Nova), not Sam,
so that it shares nothing with the live-lesson test on the same server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from live_server import DEMO, LiveServer, Tab, sign_in
from playwright.sync_api import APIRequestContext, expect

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Europe/London")
PIN = "975310"
SUBJECTS = ("E2E Astronomy", "E2E Robotics")


def _lesson_times(now: datetime) -> list[tuple[str, str]]:
    """Two 30-minute lessons today, the first starting 5-6 minutes from now (local HH:MM)."""
    start = (now + timedelta(minutes=6)).replace(second=0, microsecond=0)
    times = []
    for _ in SUBJECTS:
        end = start + timedelta(minutes=30)
        if end.date() != now.date():
            pytest.skip("too close to midnight for two lessons today")
        times.append((f"{start:%H:%M}", f"{end:%H:%M}"))
        start = end + timedelta(minutes=5)
    return times


def _timetable_csv(now: datetime) -> bytes:
    rows = ["Week,Day,Start,End,Subject,Class,Teacher,Room"]
    for subject, (start, end) in zip(SUBJECTS, _lesson_times(now), strict=True):
        rows.append(f",{now:%a},{start},{end},{subject},10Y/E2E,Ms Test,M4")
    return ("\r\n".join(rows) + "\r\n").encode()


def _make_today_a_school_day(api: APIRequestContext, server: LiveServer, school_id: str) -> None:
    """Add today to the school's calendar if it is a weekend, holiday or closure."""
    login = DEMO["hospital_staff"]
    token = api.post(
        server.url("/api/auth/login"), data={"email": login.login, "password": login.secret}
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    calendar: dict[str, Any] = api.get(
        server.url(f"/api/schools/{school_id}/calendar"), headers=headers
    ).json()
    today = datetime.now(ZONE).date()
    iso = today.isoformat()
    body = {
        "terms": calendar["terms"],
        "closures": [c for c in calendar["closures"] if not c["start"] <= iso <= c["end"]],
        "week_cycle": calendar["week_cycle"],
        "bell_times": calendar["bell_times"],
        "school_weekdays": sorted({*calendar["school_weekdays"], today.weekday()}),
    }
    if not any(t["start"] <= iso <= t["end"] for t in body["terms"]):
        body["terms"] = [*body["terms"], {"name": "E2E day", "start": iso, "end": iso}]
    if body != {k: calendar[k] for k in body}:
        resp = api.put(server.url(f"/api/schools/{school_id}/calendar"), data=body, headers=headers)
        assert resp.status == 200, resp.text()


def test_staff_import_preview_bulk_book_and_the_pupil_sees_today(
    live_server: LiveServer, open_tab: Callable[[], Tab]
) -> None:
    staff = open_tab()
    page = staff.page
    sign_in(page, live_server, "hospital_staff")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Timetables").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Timetables")
    page.get_by_role("link", name="Leo M.").click()
    pupil_id = re.search(r"/pupils/(\w+)$", page.url)
    assert pupil_id, page.url
    school_id = page.request.get(live_server.url(f"/api/pupils/{pupil_id.group(1)}")).json()[
        "school_id"
    ]
    _make_today_a_school_day(page.request, live_server, school_id)

    page.get_by_label("New PIN").fill(PIN)
    page.get_by_role("button", name="Set PIN").click()
    expect(page.get_by_role("status")).to_have_text("The new PIN is set.")

    now = datetime.now(ZONE)
    page.get_by_role("link", name="Import a timetable").click()
    page.get_by_label("Timetable export").set_input_files(
        {"name": "leo.csv", "mimeType": "text/csv", "buffer": _timetable_csv(now)}
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview of leo.csv")).to_be_visible()
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
    pupil = tablet.page
    pupil.goto(live_server.url("/pupil-login"))
    pupil.get_by_label("Your pupil code").fill("LEOM59")
    pupil.get_by_label("Your PIN").fill(PIN)
    pupil.get_by_role("button", name="Let's go").click()
    pupil.wait_for_url(live_server.url("/today"))
    lessons = pupil.locator("ul.lessons")
    for subject, (start, end) in zip(SUBJECTS, _lesson_times(now), strict=True):
        expect(lessons).to_contain_text(subject)
        expect(lessons).to_contain_text(f"{start}\u2013{end}")
    assert tablet.problems == []
