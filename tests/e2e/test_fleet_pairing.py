"""An admin registers and pairs a robot; a real agent connects; the fleet page updates live."""

from __future__ import annotations

import json
import queue
import re
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from live_server import LiveServer, Tab, classbridge_command, sign_in, stop_process
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

LIVE_UPDATE_SECONDS = 2.0
AGENT_START_SECONDS = 20.0
RETIRED_EXIT_SECONDS = 5.0
EXIT_REFUSED = 3


# Runs in the fleet page: notes the moment the robot's status cell first says Online.
RECORD_WHEN_ONLINE = """
(id) => {
  const cell = document.querySelector(`tr[data-device="${id}"] [data-field="status"]`);
  new MutationObserver(() => {
    if (!window.e2eOnlineAt && cell.textContent.trim() === "Online") {
      window.e2eOnlineAt = Date.now();
    }
  }).observe(cell, {childList: true, subtree: true, characterData: true});
}
"""


class AgentOutput:
    """Reads a subprocess's output on a thread, stamping each line with when it arrived."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put((time.time(), line.rstrip("\n")))

    def wait_for(self, text: str, timeout: float) -> float:
        """When the first line containing ``text`` arrived (seconds since the epoch)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                at, line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return at
        raise AssertionError(f"agent never printed {text!r}; it printed:\n" + "\n".join(self.seen))

    def join(self) -> None:
        """Wait for the stream to end (after the process exits)."""
        self._thread.join(timeout=5)
        while not self.lines.empty():
            self.seen.append(self.lines.get_nowait()[1])


def register_robot(page: Page, server: LiveServer, name: str, serial: str) -> str:
    """Fill in the fleet page's form; returns the new device's id from the page it lands on."""
    page.goto(server.url("/devices"))
    form = page.locator("form", has=page.get_by_role("button", name="Register device"))
    form.get_by_label("Kind").select_option("robot")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Serial number").fill(serial)
    form.get_by_label("School").select_option(label="Oakfield Academy")
    form.get_by_role("button", name="Register device").click()
    # Back on the fleet: a success message, and the new row highlighted.
    page.wait_for_url(re.compile(re.escape(server.url("/devices?registered=")) + r"\w+"))
    expect(page.get_by_role("status")).to_contain_text(f"Robot “{name}” is registered")
    expect(page.locator("tr.highlight")).to_contain_text(name)
    page.get_by_role("link", name="open it and make a pairing code").click()
    page.wait_for_url(re.compile(re.escape(server.url("/devices/")) + r"[^/?]+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Robot “{name}”")
    return page.url.rsplit("/", 1)[1]


def make_pairing_code(page: Page) -> str:
    """Click the button on the device page; returns the code shown, checking its QR code."""
    page.get_by_role("button", name="Make a pairing code").click()
    code = page.locator("#pairing-code")
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$"))
    qr = page.get_by_role("img", name=re.compile("QR code for pairing code"))
    expect(qr).to_be_visible()
    svg = qr.locator("svg")
    expect(svg).to_be_visible()
    box = svg.bounding_box()
    assert box is not None
    assert box["width"] >= 150
    assert box["height"] >= 150
    assert svg.locator("path").count() >= 1
    return code.inner_text()


def start_agent(server: LiveServer, code: str, credential: Path) -> subprocess.Popen[str]:
    """``classbridge agent --pair`` as a device would run it."""
    return subprocess.Popen(
        [
            str(classbridge_command()),
            "agent",
            "--server",
            server.base_url,
            "--pair",
            code,
            "--credential-file",
            str(credential),
        ],
        env=dict(server.env) | {"PYTHONUNBUFFERED": "1"},
        cwd=credential.parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_paired_agent_shows_online_live_and_stops_when_retired(
    live_server: LiveServer, open_tab: Callable[[], Tab], tmp_path: Path
) -> None:
    admin = open_tab()
    page = admin.page
    sign_in(page, live_server, "admin")
    name = f"E2E robot {uuid.uuid4().hex[:6]}"
    device_id = register_robot(page, live_server, name, f"E2E-{uuid.uuid4().hex[:10]}")
    code = make_pairing_code(page)

    fleet = admin.context.new_page()
    fleet.goto(live_server.url("/devices"))
    expect(fleet.locator("#fleet")).to_have_attribute("data-live", "open")
    row = fleet.locator(f'tr[data-device="{device_id}"]')
    status = row.locator('[data-field="status"]')
    battery = row.locator('[data-field="battery"]')
    expect(status).to_have_text("Not paired")
    expect(battery).to_have_text("—")
    online_before = int(fleet.locator("#count-online").inner_text())
    fleet.evaluate(RECORD_WHEN_ONLINE, device_id)

    credential = tmp_path / "device" / "cred"
    agent = start_agent(live_server, code, credential)
    assert agent.stdout is not None
    output = AgentOutput(agent.stdout)
    try:
        expect(status).to_have_text("Online", timeout=AGENT_START_SECONDS * 1000)
        connected_at = output.wait_for("agent_connected", timeout=5)
        # Set by the page itself, so it also proves the page was never reloaded.
        online_at = fleet.evaluate("window.e2eOnlineAt") / 1000
        lag = online_at - connected_at
        assert lag < LIVE_UPDATE_SECONDS, f"Online showed {lag:.2f} s after the agent connected"
        expect(battery).to_have_text(re.compile(r"^\s*\d{1,3}%"))
        expect(battery.locator("meter")).to_have_count(1)
        expect(fleet.locator("#count-online")).to_have_text(str(online_before + 1))

        assert stat.S_IMODE(credential.stat().st_mode) == 0o600
        saved = json.loads(credential.read_text())
        assert saved["device_id"] == device_id
        assert saved["server"] == live_server.base_url

        page.reload()
        retire = page.get_by_role("button", name=f"Retire {name} for good")
        expect(retire).to_be_hidden()  # retiring is for good, so it takes a second step
        page.locator("summary", has_text="Retire…").click()
        retire.click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        expect(page.locator("dt:has-text('Lifecycle') + dd")).to_have_text("Retired")
        assert agent.wait(timeout=RETIRED_EXIT_SECONDS) == EXIT_REFUSED
        output.join()
        assert any("retired" in line for line in output.seen), output.seen
        expect(status).to_have_text("Retired")  # the live table hears the lifecycle change
        assert admin.problems == []
    finally:
        stop_process(agent)
        output.join()
