"""A pupil in Chromium (fake camera and microphone) joins a lesson; the robot is a real agent.

The agent is `classbridge agent` in a subprocess with the synthetic camera;
Chromium runs the real tablet page. Frames are counted as Chromium decodes
them, and the controls are checked where they land: on the agent.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from live_server import (
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    DEMO,
    LiveServer,
    classbridge_command,
    sign_in,
    stop_process,
)
from playwright.sync_api import Browser, Page, Playwright, expect
from sqlalchemy import select

from device_registry.models import Device
from scheduler.bookings.models import Booking
from telepresence.platform.database import Database
from telepresence.platform.models import Pupil

pytestmark = pytest.mark.e2e

SUPPORT = Path(__file__).parents[1] / "support"
WEBRTC_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]


def api(server: LiveServer, method: str, path: str, token: str = "", body: object = None):
    request = urllib.request.Request(  # noqa: S310 (the test server on 127.0.0.1)
        server.url(path),
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        return json.loads(resp.read() or b"null")


def bearer(server: LiveServer, role: str) -> str:
    login = DEMO[role]
    return str(
        api(
            server, "POST", "/api/auth/login", body={"email": login.login, "password": login.secret}
        )["token"]
    )


async def book_now(server: LiveServer) -> tuple[str, str]:
    """A Maths lesson for Sam on Robbie that started a minute ago (straight into the DB)."""
    db = Database(f"sqlite+aiosqlite:///{server.data_dir / 'classbridge.sqlite3'}")
    try:
        async with db.transaction() as session:
            sam = await session.scalar(select(Pupil).where(Pupil.pupil_code == "SAMK42"))
            robbie = await session.scalar(select(Device).where(Device.serial == "OAK-AV1-0001"))
            assert sam is not None
            assert robbie is not None
            now = datetime.now(UTC)
            booking = Booking(
                pupil_id=sam.id,
                school_id=sam.school_id,
                lesson_key=f"e2e-{now:%H%M%S%f}",
                lesson_date=now.date(),
                starts_at=now - timedelta(minutes=1),
                ends_at=now + timedelta(minutes=40),
                subject="Year 9 Maths",
                room="M4",
                classroom_device_id=robbie.id,
                created_at=now,
                created_by="e2e",
            )
            session.add(booking)
            await session.flush()
            return booking.id, robbie.id
    finally:
        await db.close()


@pytest.fixture(scope="module")
def webrtc_chromium(playwright: Playwright) -> Iterator[Browser]:
    # From conftest's one driver: a second sync_playwright() in this thread is refused.
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS + WEBRTC_ARGS
    )
    try:
        yield browser
    finally:
        browser.close()


class Agent:
    """The agent subprocess and the lines it printed (read on a thread)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.output: list[str] = []
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip())


@pytest.fixture
def robot_agent(live_server: LiveServer, tmp_path: Path) -> Iterator[Agent]:
    admin = bearer(live_server, "admin")
    robbie = next(
        d for d in api(live_server, "GET", "/api/devices", admin) if d["serial"] == "OAK-AV1-0001"
    )
    code = api(live_server, "POST", f"/api/devices/{robbie['id']}/pairing-code", admin)["code"]
    process = subprocess.Popen(
        [
            str(classbridge_command()),
            "agent",
            "--server",
            live_server.base_url,
            "--pair",
            code,
            "--credential-file",
            str(tmp_path / "cred"),
        ],
        env=dict(live_server.env)
        | {
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")])
            ),
            "PYTHONUNBUFFERED": "1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    agent = Agent(process)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            state = api(live_server, "GET", f"/api/devices/{robbie['id']}", admin)
            if state["online"]:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the agent never came online")
        yield agent
    finally:
        stop_process(process)


def leave_lesson(page: Page, server: LiveServer, booking_id: str) -> None:
    """Leave as a pupil does: "Leave lesson", then yes to the one question it asks."""
    page.get_by_role("link", name="Leave lesson").click()
    page.get_by_role("button", name="Yes, leave").click()
    page.wait_for_url(server.url(f"/today?left={booking_id}"))


def frames(page: Page) -> int:
    return int(page.evaluate("() => window.classbridgeLesson.frames"))


def test_pupil_joins_from_the_tablet_page_and_drives_the_robot(
    live_server: LiveServer,
    webrtc_chromium: Browser,
    robot_agent: Agent,
) -> None:
    # Playwright's sync API runs a loop in this thread; the database setup gets its own.
    with ThreadPoolExecutor(1) as pool:
        booking_id, _ = pool.submit(asyncio.run, book_now(live_server)).result()
    context = webrtc_chromium.new_context(viewport={"width": 1024, "height": 768})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    reported: list[int] = []  # the page reports its join time for the operators' metrics
    page.on(
        "response",
        lambda r: reported.append(r.status) if r.url.endswith("/api/client-timings") else None,
    )
    try:
        sign_in(page, live_server, "pupil")
        join = page.locator(f"#lesson-{booking_id}").get_by_role("link", name="Join Year 9 Maths")
        expect(join).to_be_visible()
        join.click()
        tapped = time.monotonic()
        page.wait_for_url(live_server.url(f"/lessons/{booking_id}"))
        page.wait_for_function(
            "() => window.classbridgeLesson && window.classbridgeLesson.frames > 0", timeout=10_000
        )
        first_frame_s = time.monotonic() - tapped
        print(f"Chromium: tap on Join to first decoded frame {first_frame_s * 1000:.0f} ms")
        expect(page.locator("#live")).to_be_visible()
        time.sleep(1.5)
        assert frames(page) >= 20, "video frames are decoded continuously"
        assert first_frame_s < 5
        timing = page.evaluate("() => (window.classbridgeLesson.timings || [])[0]")
        assert timing["measure"] == "join_first_frame"
        assert 0 < timing["seconds"] < first_frame_s + 0.5
        deadline = time.monotonic() + 5
        while not reported and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert reported == [204]

        shots = os.environ.get("CLASSBRIDGE_E2E_SCREENSHOTS")
        if shots:  # for people reviewing the tablet page; never in CI
            page.screenshot(path=f"{shots}/tablet-lesson-live.png")
        hand = page.get_by_role("button", name="Raise hand")
        hand.click()
        expect(page.locator("#hand")).to_have_attribute("aria-pressed", "true")
        page.get_by_role("button", name="Look left").click()
        page.get_by_role("button", name="Just listening").click()
        expect(page.locator("#listen")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#live")).to_contain_text("just listening")
        if shots:
            page.screenshot(path=f"{shots}/tablet-lesson-listening.png")

        session_id = page.evaluate("() => window.classbridgeLesson.session")
        leave_lesson(page, live_server, booking_id)
        assert errors == []
    finally:
        context.close()
    staff = bearer(live_server, "hospital_staff")
    # Leaving ends only the pupil's side (test_tablet_e2e.py rejoins); staff end it here.
    assert api(live_server, "GET", f"/api/sessions/{session_id}", staff)["status"] == "open"
    api(live_server, "POST", f"/api/sessions/{session_id}/end", staff)
    events = api(live_server, "GET", f"/api/sessions/{session_id}/events", staff)
    controls = [e["data"]["control"] for e in events if e["kind"] == "control"]
    assert controls == ["raise_hand", "head", "listening_mode"]
    assert ("robot", "media_started") in [(e["participant"], e["kind"]) for e in events]
    output = robot_agent.output
    deadline = time.monotonic() + 5
    while "on=False" not in "\n".join(output[-5:]) and time.monotonic() < deadline:
        time.sleep(0.1)
    text = "\n".join(output)
    assert '"control": "raise_hand"' in text
    assert "hardware_live_light" in text
