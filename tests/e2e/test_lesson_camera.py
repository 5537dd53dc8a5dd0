"""The pupil's camera in Chromium against the real agent: absent unless allowed; when allowed,
off at the start, and turning it on makes the robot receive (and count) the pupil's frames."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from e2e.test_lesson_chromium import Agent, api, bearer, book_now, robot_agent, webrtc_chromium
from live_server import AUDIT_JS, LiveServer, sign_in
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError

from scheduler.bookings.models import Booking
from telepresence.platform.database import Database

pytestmark = pytest.mark.e2e
__all__ = ["robot_agent", "webrtc_chromium"]  # fixtures shared with the lesson test

VIEWPORTS = {"phone": (390, 844), "tablet": (820, 1180), "desktop": (1366, 900)}


def camera_lines(agent: Agent) -> list[tuple[int, bool]]:
    """The agent's "pupil's camera live" indicator changes (its JSON log): (frames so far, on)."""
    found = []
    for line in list(agent.output):
        if '"hardware_pupil_camera"' in line:
            entry = json.loads(line)
            found.append((int(entry["frames"]), bool(entry["on"])))
    return found


def wait_for(agent: Agent, on: bool, after: int, timeout: float = 10) -> tuple[int, bool]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = camera_lines(agent)[after:]
        if any(state == on for _, state in lines):
            return next(line for line in lines if line[1] == on)
        time.sleep(0.1)
    tail = "\n".join(agent.output[-40:])
    raise AssertionError(f"the agent never showed camera on={on}: {camera_lines(agent)}\n{tail}")


def set_camera(server: LiveServer, school: bool, pupil: bool) -> None:
    coordinator = bearer(server, "coordinator")
    sam = next(
        p for p in api(server, "GET", "/api/pupils", coordinator) if p["pupil_code"] == "SAMK42"
    )
    api(
        server,
        "PUT",
        f"/api/schools/{sam['school_id']}/pupil-camera",
        coordinator,
        {"allowed": school},
    )
    api(
        server,
        "PUT",
        f"/api/pupils/{sam['id']}/camera-consent",
        bearer(server, "hospital_staff"),
        {"consent": pupil},
    )


BOOKED: list[str] = []


@pytest.fixture
def camera_settings(live_server: LiveServer) -> Iterator[None]:
    """Whatever a test sets or books, the demo is left as it was for the tests after it."""
    try:
        yield
    finally:
        set_camera(live_server, school=False, pupil=False)
        with ThreadPoolExecutor(1) as pool:
            while BOOKED:
                pool.submit(asyncio.run, cancel(live_server, BOOKED.pop())).result()


async def cancel(server: LiveServer, booking_id: str) -> None:
    """Take a finished test lesson off Sam's today page (other tests look for its Join)."""
    db = Database(f"sqlite+aiosqlite:///{server.data_dir / 'classbridge.sqlite3'}")
    try:
        async with db.transaction() as session:
            booking = await session.get(Booking, booking_id)
            assert booking is not None
            booking.status = "cancelled"
    finally:
        await db.close()


def join_lesson(browser: Browser, server: LiveServer) -> tuple[Page, list[str]]:
    with ThreadPoolExecutor(1) as pool:
        booking_id, _ = pool.submit(asyncio.run, book_now(server)).result()
    BOOKED.append(booking_id)
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, server, "pupil")
    page.goto(server.url(f"/lessons/{booking_id}"))
    try:
        page.wait_for_function("() => window.classbridgeLesson.frames > 0", timeout=15_000)
    except PlaywrightError as exc:
        status = page.locator("#status").text_content()
        state = page.evaluate(
            "() => { const s = window.classbridgeLesson; return {offers: s.offers,"
            " ws: s.ws && s.ws.readyState, pc: s.pc && s.pc.connectionState,"
            " sig: s.pc && s.pc.signalingState, camera: s.cameraAllowed}; }"
        )
        raise AssertionError(f"no frames from the robot: {status!r} {state} {errors}") from exc
    return page, errors


def leave(page: Page, server: LiveServer) -> None:
    session_id = page.evaluate("() => window.classbridgeLesson.session")
    page.get_by_role("link", name="Leave lesson").click()
    page.get_by_role("button", name="Yes, leave").click()
    page.wait_for_url(re.compile(r".*/today\?left="))
    page.context.close()
    # Leaving keeps the session open for a rejoin; end it so the next test starts afresh.
    api(server, "POST", f"/api/sessions/{session_id}/end", bearer(server, "hospital_staff"))


def test_the_camera_toggle_is_absent_unless_school_and_pupil_allow_it(
    live_server: LiveServer,
    webrtc_chromium: Browser,
    robot_agent: Agent,
    camera_settings: None,
) -> None:
    set_camera(live_server, school=True, pupil=False)  # the school alone is not enough
    page, errors = join_lesson(webrtc_chromium, live_server)
    expect(page.locator("#live")).to_be_visible()
    assert page.evaluate("() => window.classbridgeLesson.cameraAllowed") is False
    expect(page.get_by_role("button", name=re.compile("Camera"))).to_have_count(0)
    expect(page.locator("#camera-live")).to_be_hidden()
    # The offer that went out asked for the robot's video only.
    sdp = page.evaluate("() => window.classbridgeLesson.pc.localDescription.sdp")
    video = sdp.split("m=video", 1)[1].split("m=", 1)[0]
    assert "a=recvonly" in video
    leave(page, live_server)
    assert errors == []
    assert camera_lines(robot_agent) == []


def test_turning_the_camera_on_sends_frames_to_the_robot(
    live_server: LiveServer,
    webrtc_chromium: Browser,
    robot_agent: Agent,
    camera_settings: None,
) -> None:
    set_camera(live_server, school=True, pupil=True)
    page, errors = join_lesson(webrtc_chromium, live_server)
    toggle = page.get_by_role("button", name=re.compile("Camera"))
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-pressed", "false")  # off at every start
    expect(page.locator("#camera-live")).to_be_hidden()
    time.sleep(1.0)
    assert camera_lines(robot_agent) == [], "nothing is sent before the pupil turns it on"
    offers = page.evaluate("() => window.classbridgeLesson.offers")
    shots = os.environ.get("CLASSBRIDGE_E2E_SCREENSHOTS")
    if shots:
        page.set_viewport_size({"width": 820, "height": 1180})
        page.screenshot(path=f"{shots}/lesson-camera-off-tablet.png", full_page=True)

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#camera-live")).to_contain_text("the class can see you")
    expect(page.locator("#self")).to_be_visible()
    _, on = wait_for(robot_agent, on=True, after=0)
    assert on
    time.sleep(1.0)
    assert page.evaluate("() => window.classbridgeLesson.offers") == offers, "no renegotiation"
    audit = {}
    for name, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        audit[name] = page.evaluate(AUDIT_JS)
        if shots:  # for people reviewing the tablet page; never in CI
            page.screenshot(path=f"{shots}/lesson-camera-on-{name}.png", full_page=True)
    assert audit == {name: [] for name in VIEWPORTS}

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#camera-live")).to_be_hidden()
    frames, _ = wait_for(robot_agent, on=False, after=1)
    assert frames >= 20, "the robot decoded the pupil's video continuously"
    session_id = page.evaluate("() => window.classbridgeLesson.session")
    leave(page, live_server)
    assert errors == []
    # The session's timeline shows when the pupil's camera was live.
    staff = bearer(live_server, "hospital_staff")
    events = api(live_server, "GET", f"/api/sessions/{session_id}/events", staff)
    assert [e["data"] for e in events if e["kind"] == "camera"] == [{"on": True}, {"on": False}]
