"""Every role's pages fit a phone and a desktop: no overflow, 48 px targets, labels, headings."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from live_server import AUDIT_JS, LiveServer, Tab, sign_in

pytestmark = pytest.mark.e2e

VIEWPORTS = {"phone": (390, 844), "desktop": (1366, 900)}
# A path, or "first:<table id or selector>" for the first record linked from a list page.
PAGES: dict[str | None, list[str]] = {
    None: ["/login", "/pupil-login", "/pair?code=ABCD-2345"],
    "admin": ["/devices", "first-device", "/pupils", "first-pupil", "/schools", "/staff", "/audit"],
    "coordinator": ["/devices", "first-device"],
    "hospital_staff": ["/pupils", "first-pupil"],
    "assistant": ["/assistant"],
    "pupil": ["/today"],
}
FIRST = {"first-device": ("/devices", "#fleet tbody a"), "first-pupil": ("/pupils", "tbody a")}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("role", list(PAGES))
def test_pages_fit_and_read_well(
    live_server: LiveServer, open_tab: Callable[[], Tab], role: str | None, viewport: str
) -> None:
    tab = open_tab()
    width, height = VIEWPORTS[viewport]
    tab.page.set_viewport_size({"width": width, "height": height})
    if role:
        sign_in(tab.page, live_server, role)

    findings: dict[str, list[str]] = {}
    for target in PAGES[role]:
        if target in FIRST:
            listing, link = FIRST[target]
            tab.page.goto(live_server.url(listing))
            tab.page.locator(link).first.click()
            tab.page.wait_for_load_state()
        else:
            tab.page.goto(live_server.url(target))
        findings[tab.page.url] = tab.page.evaluate(AUDIT_JS)

    assert {url: found for url, found in findings.items() if found} == {}
    assert len(findings) == len(PAGES[role])
    assert tab.problems == []
