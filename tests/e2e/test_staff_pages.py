"""Staff pages as staff use them (issue 16): the menu, editing a pupil, an assistant's duty."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from live_server import LiveServer, Tab, ok, sign_in
from playwright.sync_api import APIRequestContext, expect

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


def test_staff_edit_a_pupil_and_set_an_assistants_duty(
    live_server: LiveServer, open_tab: Callable[[], Tab], api: APIRequestContext
) -> None:
    schools = ok(api.get("/api/schools"))
    oakfield = next(s for s in schools if s["name"] == "Oakfield Academy")
    ok(
        api.post(
            "/api/users",
            data={
                "email": "jo.duty@oakfield.example",
                "name": "Jo Duty",
                "role": "assistant",
                "school_id": oakfield["id"],
            },
        ),
        201,
    )
    tab = open_tab()
    page = tab.page
    sign_in(page, live_server, "hospital_staff")

    # A pupil's details, edited in their page.
    page.get_by_role("link", name="Leo Murphy").click()
    page.get_by_text("Edit details").click()
    year = page.get_by_label("Year group")
    before = year.input_value()
    year.fill("Year 10 (set 2)")
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_role("status")).to_contain_text("details are saved")
    expect(page.locator("dl.facts").first).to_contain_text("Year 10 (set 2)")
    page.get_by_text("Edit details").click()
    page.get_by_label("Year group").fill(before)
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_role("status")).to_contain_text("details are saved")

    # An assistant's duty hours and a day away, from the school's rota.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Move rota").click()
    page.get_by_role("link", name="Oakfield Academy").click()
    page.get_by_role("link", name="Jo Duty: duty hours and days away").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Jo Duty: duty and days away")
    sunday = page.get_by_role("group", name="Sunday")
    sunday.get_by_label("From", exact=True).fill("06:00")
    sunday.get_by_label("Until", exact=True).fill("06:30")
    page.get_by_role("button", name="Save duty hours").click()
    expect(page.get_by_role("status")).to_contain_text("Duty hours saved")
    expect(page.get_by_role("group", name="Sunday").get_by_label("From", exact=True)).to_have_value(
        "06:00"
    )
    page.get_by_label("First day away").fill("2030-01-07")
    page.get_by_label("Last day away").fill("2030-01-08")
    page.get_by_label("Reason").fill("course")
    page.get_by_role("button", name="Add days away").click()
    expect(page.get_by_role("status")).to_contain_text("Absence saved")
    expect(page.locator("ul.absences")).to_contain_text("course")
    assert tab.problems == []
