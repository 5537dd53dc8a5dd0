"""Staff pages as staff use them (issue 16): the menu, editing a pupil, an assistant's duty."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from live_server import LiveServer, Tab, sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

ROWS_JS = """() => new Set([...document.querySelectorAll('nav.main a')]
  .filter(a => a.offsetParent).map(a => Math.round(a.getBoundingClientRect().top))).size"""


def test_the_menu_is_one_line_on_a_desktop_and_one_button_on_a_phone(
    live_server: LiveServer, open_tab: Callable[[], Tab]
) -> None:
    tab = open_tab()
    page = tab.page
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live_server, "admin")
    assert page.evaluate(ROWS_JS) == 1
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    header = page.locator("header.top").bounding_box()
    assert header is not None
    assert header["height"] <= 72
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Pupils")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    nav.get_by_role("link", name="Pupils").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pupils")
    assert tab.problems == []
