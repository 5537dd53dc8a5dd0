"""Hospital staff watch a live lesson in Chromium through the relay, beside the pupil.

The robot is the real agent (subprocess, synthetic camera); the pupil is in
the lesson in one Chromium context, the teacher watches in another. The
relay forwards the robot's VP8 frames without transcoding: Chromium decoding
them (and asking for keyframes) is the end-to-end guard of the aiortc
internals the relay depends on.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from e2e.test_lesson_chromium import Agent, api, bearer, book_now, robot_agent, webrtc_chromium
from live_server import AUDIT_JS, LiveServer, sign_in
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.e2e
__all__ = ["robot_agent", "webrtc_chromium"]  # fixtures shared with the lesson test

VIEWPORTS = {"phone": (390, 844), "tablet": (820, 1180), "desktop": (1366, 900)}

DECODED = """async () => {
  const stats = await window.classbridgeWatch.getStats();
  let decoded = 0, codec = "", id = "";
  stats.forEach(s => { if (s.type === "inbound-rtp" && s.kind === "video") {
    decoded = s.framesDecoded || 0; id = s.codecId; } });
  stats.forEach(s => { if (s.id === id) { codec = s.mimeType; } });
  return [decoded, codec];
}"""

PUPIL_DECODED = """async () => {
  let decoded = 0;
  (await window.classbridgeLesson.pc.getStats()).forEach(s => {
    if (s.type === "inbound-rtp" && s.kind === "video") { decoded = s.framesDecoded || 0; } });
  return decoded;
}"""


def decoded(page: Page) -> tuple[int, str]:
    count, codec = page.evaluate(DECODED)
    return int(count), str(codec)


def test_a_teacher_watches_the_lesson_beside_the_pupil(
    live_server: LiveServer, webrtc_chromium: Browser, robot_agent: Agent
) -> None:
    with ThreadPoolExecutor(1) as pool:
        booking_id, _ = pool.submit(asyncio.run, book_now(live_server)).result()
    tablet = webrtc_chromium.new_context(viewport={"width": 1024, "height": 768})
    desk = webrtc_chromium.new_context(viewport={"width": 1366, "height": 900})
    for context in (tablet, desk):
        context.set_default_timeout(15_000)
    pupil, teacher = tablet.new_page(), desk.new_page()
    errors: list[str] = []
    for page in (pupil, teacher):
        page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        sign_in(pupil, live_server, "pupil")
        pupil.goto(live_server.url(f"/lessons/{booking_id}"))
        pupil.wait_for_function(
            "() => window.classbridgeLesson && window.classbridgeLesson.frames > 0"
        )

        live_id = pupil.evaluate("() => window.classbridgeLesson.session")
        sign_in(teacher, live_server, "hospital_staff")
        teacher.get_by_role("link", name="Live lessons").click()
        # This test's lesson (another test's may still be live on the shared server).
        watch = teacher.locator(f'a[href="/watch/{live_id}"]')
        expect(watch).to_have_accessible_name("Watch Year 9 Maths with Sam K.")
        expect(watch).to_be_visible()
        if os.environ.get("CLASSBRIDGE_E2E_SCREENSHOTS"):
            teacher.screenshot(path=f"{os.environ['CLASSBRIDGE_E2E_SCREENSHOTS']}/live-lessons.png")
        watch.click()
        teacher.wait_for_function(
            "() => Number(document.getElementById('watch').dataset.frames) > 30"
        )
        expect(teacher.locator("#live")).to_be_visible()
        count, codec = decoded(teacher)
        assert codec == "video/VP8"  # one codec on both legs: forwarded, not transcoded
        time.sleep(1.0)
        later, _ = decoded(teacher)
        assert later - count >= 15, "Chromium keeps decoding forwarded frames"
        # Nobody is watched without knowing: the pupil's tablet says who watches.
        expect(pupil.locator("#watchers")).to_contain_text("Grace A. is watching with you")
        # The pupil's own call is unaffected.
        before = pupil.evaluate(PUPIL_DECODED)
        time.sleep(1.0)
        assert pupil.evaluate(PUPIL_DECODED) > before + 10
        teacher.bring_to_front()
        assert teacher.evaluate(AUDIT_JS) == []

        shots = os.environ.get("CLASSBRIDGE_E2E_SCREENSHOTS")
        if shots:  # for people reviewing the page; never in CI
            pupil.screenshot(path=f"{shots}/tablet-lesson-watched.png")
            for name, (width, height) in VIEWPORTS.items():
                teacher.set_viewport_size({"width": width, "height": height})
                time.sleep(0.3)
                teacher.screenshot(path=f"{shots}/watch-{name}.png")

        session_id = pupil.evaluate("() => window.classbridgeLesson.session")
        teacher.get_by_role("link", name="Stop watching").click()
        teacher.wait_for_url(live_server.url("/watch"))
        expect(pupil.locator("#watchers")).to_be_hidden()
        assert errors == []
    finally:
        tablet.close()
        desk.close()
    deadline = time.monotonic() + 5
    text = ""
    while time.monotonic() < deadline:
        text = "\n".join(robot_agent.output)
        if "relay_upload_started" in text:
            break
        time.sleep(0.1)
    assert "relay_upload_started" in text
    assert "hardware_watchers" in text  # the robot shows the class who watches, too
    assert "Grace A." in text
    staff = bearer(live_server, "hospital_staff")
    events = api(live_server, "GET", f"/api/sessions/{session_id}/events", staff)
    kinds = [e["kind"] for e in events]
    assert kinds.count("watching") == 1
    assert kinds.count("stopped_watching") == 1
