"""The robot offers and Chromium answers: the pupil sees the class again on the new call.

The tablet page normally offers and the robot answers. When the robot's call
fails and no offer comes from the pupil within 2 s, the agent offers a fresh
connection itself (docs/protocol.md, "Who offers"); the page answers it
(``answerOffer`` in lesson.js). Here the agent is the real ``classbridge agent``
subprocess, told by a test hook (tests/support/robot_offers.py) to take that
path mid-lesson; Chromium runs the real tablet page.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from live_server import LiveServer, classbridge_command, sign_in, stop_process
from playwright.sync_api import Browser, expect
from test_lesson_chromium import SUPPORT, Agent, api, bearer, book_now, webrtc_chromium

pytestmark = pytest.mark.e2e
__all__ = ["webrtc_chromium"]  # the module's browser fixture, shared


@pytest.fixture
def offering_agent(live_server: LiveServer, tmp_path: Path) -> Iterator[tuple[Agent, Path]]:
    """The agent subprocess with the offer hook; the file that makes it offer."""
    admin = bearer(live_server, "admin")
    robbie = next(
        d for d in api(live_server, "GET", "/api/devices", admin) if d["serial"] == "OAK-AV1-0001"
    )
    code = api(live_server, "POST", f"/api/devices/{robbie['id']}/pairing-code", admin)["code"]
    trigger = tmp_path / "offer-now"
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
            "TEST_ROBOT_OFFER_FILE": str(trigger),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    agent = Agent(process)
    try:
        deadline = time.monotonic() + 20
        while not api(live_server, "GET", f"/api/devices/{robbie['id']}", admin)["online"]:
            assert time.monotonic() < deadline, "the agent never came online"
            time.sleep(0.2)
        yield agent, trigger
    finally:
        stop_process(process)


# Video frames decoded by the page's current connection.
FRAMES = """async () => {
    let frames = 0;
    (await window.classbridgeLesson.pc.getStats()).forEach((r) => {
        if (r.type === "inbound-rtp" && r.kind === "video") { frames = r.framesDecoded || 0; }
    });
    return frames;
}"""


def _wait_for_line(agent: Agent, text: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [line for line in agent.output if text in line]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"the agent never printed {text!r}:\n" + "\n".join(agent.output[-30:]))


def test_chromium_answers_the_robots_offer_and_the_class_comes_back(
    live_server: LiveServer,
    webrtc_chromium: Browser,
    offering_agent: tuple[Agent, Path],
) -> None:
    agent, trigger = offering_agent
    with ThreadPoolExecutor(1) as pool:
        booking_id, _ = pool.submit(asyncio.run, book_now(live_server)).result()
    context = webrtc_chromium.new_context(viewport={"width": 1024, "height": 768})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        sign_in(page, live_server, "pupil")
        # Its own lesson: earlier tests on this shared server may have left another Maths open.
        page.locator(f"#lesson-{booking_id}").get_by_role("link", name="Join Year 9 Maths").click()
        page.wait_for_url(live_server.url(f"/lessons/{booking_id}"))
        page.wait_for_function("() => window.classbridgeLesson.frames > 10", timeout=10_000)
        assert page.evaluate("() => window.classbridgeLesson.offers") == 1
        page.evaluate("() => { window.oldCall = window.classbridgeLesson.pc; }")

        trigger.touch()  # the robot's call "failed": it offers after 2 s of no pupil offer
        offered = _wait_for_line(agent, "test: robot offered r", 10)
        offer_id = offered.rsplit(" ", 1)[-1]
        asked = time.monotonic()
        _wait_for_line(agent, f"test: answer to {offer_id} applied (stable)", 10)
        # The page answered on a new connection of its own (the old one is closed), and
        # the class is back on it: frames decoded by the new connection.
        page.wait_for_function(
            """async () => {
                const s = window.classbridgeLesson;
                if (s.pc === window.oldCall || window.oldCall.signalingState !== "closed") {
                    return false;
                }
                return (await (NEW_CALL_FRAMES)()) > 10;
            }""".replace("NEW_CALL_FRAMES", FRAMES),
            timeout=10_000,
        )
        back_s = time.monotonic() - asked
        print(f"Chromium: robot's offer to frames on the new call {back_s * 1000:.0f} ms")
        assert page.evaluate("() => window.classbridgeLesson.offers") == 2
        assert page.evaluate("() => window.classbridgeLesson.offerId") is None
        expect(page.locator("#live")).to_be_visible()
        before = page.evaluate(f"async () => await ({FRAMES})()")
        time.sleep(1.5)
        after = page.evaluate(f"async () => await ({FRAMES})()")
        assert after >= before + 20, "\n".join(agent.output[-40:])
        # The controls travel on the data channel the robot's offer created.
        page.get_by_role("button", name="Raise hand").click()
        expect(page.locator("#hand")).to_have_attribute("aria-pressed", "true")
        _wait_for_line(agent, '"control": "raise_hand"', 5)
        assert errors == []
    finally:
        session_id = page.evaluate("() => window.classbridgeLesson?.session ?? null")
        context.close()
        if session_id:  # leaving keeps a lesson open: staff end it so the next test starts clean
            api(
                live_server,
                "POST",
                f"/api/sessions/{session_id}/end",
                bearer(live_server, "hospital_staff"),
            )
