"""The pupil's tablet in Chromium at tablet size (820x1180), with the real robot agent.

A pupil leaves a running lesson (asked once), lands on today's page, and joins
the same lesson again: the session stayed open and the robot stayed in it, so
the class is back on screen. And a robot that is probably not in the lesson's
room shows a gentle warning to the pupil and to staff watching.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from e2e.test_lesson_chromium import (
    Agent,
    api,
    bearer,
    leave_lesson,
    robot_agent,
    webrtc_chromium,
)
from live_server import AUDIT_JS, LiveServer, sign_in
from playwright.sync_api import Browser, Page, ViewportSize, expect
from sqlalchemy import select

from device_registry.models import Device
from scheduler.bookings.models import Booking
from telepresence.platform.database import Database
from telepresence.platform.models import Pupil, Room

pytestmark = pytest.mark.e2e
__all__ = ["robot_agent", "webrtc_chromium"]  # fixtures shared with the lesson test

TABLET: ViewportSize = {"width": 820, "height": 1180}
DESKTOP: ViewportSize = {"width": 1366, "height": 900}
LIGHT_OFF = '"on": false, "event": "hardware_live_light"'
VIEWPORTS = {"phone": (390, 844), "tablet": (820, 1180), "desktop": (1366, 900)}


async def book(server: LiveServer, subject: str, room: str, *, robot_in: str) -> str:
    """A lesson for Sam on Robbie in ``room`` that started a minute ago; Robbie was last
    known in the room ``robot_in`` (the demo leaves it on its charger in the Office)."""
    db = Database(f"sqlite+aiosqlite:///{server.data_dir / 'classbridge.sqlite3'}")
    try:
        async with db.transaction() as session:
            sam = await session.scalar(select(Pupil).where(Pupil.pupil_code == "SAMK42"))
            robbie = await session.scalar(select(Device).where(Device.serial == "OAK-AV1-0001"))
            assert sam is not None
            assert robbie is not None
            where = await session.scalar(
                select(Room).where(Room.school_id == sam.school_id, Room.name == robot_in)
            )
            assert where is not None
            robbie.last_known_room_id = where.id
            now = datetime.now(UTC)
            booking = Booking(
                pupil_id=sam.id,
                school_id=sam.school_id,
                lesson_key=f"e2e-tablet-{now:%H%M%S%f}",
                lesson_date=now.date(),
                starts_at=now - timedelta(minutes=1),
                ends_at=now + timedelta(minutes=40),
                subject=subject,
                room=room,
                classroom_device_id=robbie.id,
                created_at=now,
                created_by="e2e",
            )
            session.add(booking)
            await session.flush()
            return booking.id
    finally:
        await db.close()


def booked(server: LiveServer, subject: str, room: str, *, robot_in: str) -> str:
    # Playwright's sync API runs a loop in this thread; the database setup gets its own.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, book(server, subject, room, robot_in=robot_in)).result()


def frames(page: Page) -> int:
    return int(page.evaluate("() => window.classbridgeLesson.frames"))


def shoot(page: Page, name: str) -> list[str]:
    """The machine's layout findings at every size; screenshots when a reviewer asks for them."""
    shots = os.environ.get("CLASSBRIDGE_E2E_SCREENSHOTS")
    findings = []
    for size, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        findings += [f"{size}: {f}" for f in page.evaluate(AUDIT_JS)]
        if shots:  # never in CI
            page.screenshot(path=f"{shots}/{name}-{size}.png", full_page=True)
    page.set_viewport_size(TABLET)
    return findings


def test_a_pupil_leaves_a_running_lesson_and_joins_it_again(
    live_server: LiveServer, webrtc_chromium: Browser, robot_agent: Agent
) -> None:
    booking_id = booked(live_server, "Year 9 English", "E7", robot_in="E7")
    context = webrtc_chromium.new_context(viewport=TABLET)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    staff = bearer(live_server, "hospital_staff")
    try:
        sign_in(page, live_server, "pupil")
        page.locator(f"#lesson-{booking_id}").get_by_role(
            "link", name="Join Year 9 English", exact=True
        ).click()
        page.wait_for_function("() => window.classbridgeLesson.frames > 0", timeout=15_000)
        session_id = page.evaluate("() => window.classbridgeLesson.session")
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
        assert shoot(page, "tablet-lesson") == []

        # "Leave lesson" asks once; staying keeps the class on screen.
        page.get_by_role("link", name="Leave lesson").click()
        question = page.get_by_role("alertdialog")
        expect(question).to_contain_text("Leave Year 9 English?")
        expect(question).to_contain_text(re.compile(r"You can join again until \d\d:\d\d"))
        expect(page.get_by_role("button", name="Stay in the lesson")).to_be_focused()
        assert shoot(page, "tablet-lesson-leave-question") == []
        page.get_by_role("button", name="Stay in the lesson").click()
        expect(question).to_be_hidden()
        before = frames(page)
        time.sleep(1.0)
        assert frames(page) > before, "staying kept the class on screen"

        seen = len(robot_agent.output)
        leave_lesson(page, live_server, booking_id)
        expect(page.get_by_role("status")).to_contain_text("You left Year 9 English.")
        session = api(live_server, "GET", f"/api/sessions/{session_id}", staff)
        assert session["status"] == "open", "leaving ends only the pupil's side"
        assert shoot(page, "tablet-today-after-leaving") == []
        # The class sees the pupil has gone (the robot's live light goes off) ...
        deadline = time.monotonic() + 5
        while not [line for line in robot_agent.output[seen:] if LIGHT_OFF in line]:
            assert time.monotonic() < deadline, "\n".join(robot_agent.output[-20:])
            time.sleep(0.1)
        # ... but the robot stays in the lesson: nobody ended it.
        assert not [line for line in robot_agent.output if "session_end" in line]

        tapped = time.monotonic()
        page.locator(f"#lesson-{booking_id}").get_by_role(
            "link", name="Join Year 9 English again"
        ).click()
        page.wait_for_url(live_server.url(f"/lessons/{booking_id}"))
        page.wait_for_function("() => window.classbridgeLesson.frames > 0", timeout=10_000)
        back_s = time.monotonic() - tapped
        print(f"Chromium: tap on 'Join again' to the class on screen {back_s * 1000:.0f} ms")
        assert page.evaluate("() => window.classbridgeLesson.session") == session_id
        expect(page.locator("#live")).to_be_visible()
        assert back_s < 5
        assert errors == []
    finally:
        context.close()
        api(live_server, "POST", f"/api/sessions/{session_id}/end", staff)
    events = api(live_server, "GET", f"/api/sessions/{session_id}/events", staff)
    pupil = [e["kind"] for e in events if e["participant"] == "pupil"]
    assert pupil[:1] == ["joined"]
    assert "left" in pupil
    assert "reconnected" in pupil[pupil.index("left") :]
    assert [e["kind"] for e in events].count("ended") == 1  # only the staff's end, at last


def test_a_robot_probably_not_in_the_room_shows_a_gentle_warning(
    live_server: LiveServer, webrtc_chromium: Browser, robot_agent: Agent
) -> None:
    # Robbie is on its charger in the Office; nobody moved it to E7.
    booking_id = booked(live_server, "Year 9 French", "E7", robot_in="Office")
    context = webrtc_chromium.new_context(viewport=TABLET)
    context.set_default_timeout(15_000)
    page = context.new_page()
    staff = bearer(live_server, "hospital_staff")
    # Earlier tests on this shared server may have told of other lessons: count from here.
    told_before = {
        n["id"]
        for n in api(live_server, "GET", "/api/notifications", staff)
        if n["kind"] == "robot_not_in_room"
    }
    session_id = None
    try:
        sign_in(page, live_server, "pupil")
        row = page.locator(f"#lesson-{booking_id}")
        expect(row.get_by_role("note")).to_have_text("Robbie might not be in E7 yet.")
        assert shoot(page, "tablet-today-robot-elsewhere") == []
        row.get_by_role("link", name="Join Year 9 French").click()
        warning = page.locator("#room-warning")
        expect(warning).to_contain_text("Robbie might not be in E7 yet.")
        expect(warning).to_contain_text("We've told your school")
        page.wait_for_function("() => window.classbridgeLesson.frames > 0", timeout=15_000)
        session_id = page.evaluate("() => window.classbridgeLesson.session")
        assert shoot(page, "tablet-lesson-robot-elsewhere") == []

        desk = webrtc_chromium.new_context(viewport=DESKTOP)
        watcher = desk.new_page()
        sign_in(watcher, live_server, "hospital_staff")
        watcher.goto(live_server.url(f"/watch/{session_id}"))
        # Why depends on the rota at this hour (a move not confirmed, or none): both name Office.
        expect(watcher.locator("#room-warning")).to_contain_text("The robot may not be in E7: ")
        expect(watcher.locator("#room-warning")).to_contain_text("last known in Office.")
        assert shoot(watcher, "watch-robot-elsewhere") == []

        # Someone brings Robbie to E7 and says so ("Where is it now?"): both warnings go.
        admin = bearer(live_server, "admin")
        robbie = next(
            d for d in api(live_server, "GET", "/api/devices", admin) if d["name"] == "Robbie"
        )
        rooms = api(live_server, "GET", f"/api/schools/{robbie['school_id']}/rooms", admin)
        e7 = next(r["id"] for r in rooms if r["name"] == "E7")
        api(live_server, "PATCH", f"/api/devices/{robbie['id']}", admin, {"last_known_room_id": e7})
        page.evaluate("() => window.classbridgeLesson.checkRoom()")
        expect(warning).to_be_hidden()
        watcher.evaluate("() => window.classbridgeCheckRoom()")
        expect(watcher.locator("#room-warning")).to_be_hidden()
        desk.close()
    finally:
        context.close()
        if session_id:
            api(live_server, "POST", f"/api/sessions/{session_id}/end", staff)
    # The pupil's key worker (the demo's teacher) was told in the app.
    told = [
        n
        for n in api(live_server, "GET", "/api/notifications", staff)
        if n["kind"] == "robot_not_in_room" and n["id"] not in told_before
    ]
    assert [n["subject"] for n in told] == ["Robot 'Robbie' may not be in E7 for Sam K."]
