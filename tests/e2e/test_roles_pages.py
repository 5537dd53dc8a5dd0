"""Each role signs in through its own form, sees its start page, and only its own pages."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from live_server import DEMO, LiveServer, Tab, sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

ROLES = ["admin", "coordinator", "hospital_staff", "assistant", "pupil"]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_lands_on_a_start_page_that_renders(
    live_server: LiveServer, open_tab: Callable[[], Tab], role: str
) -> None:
    tab = open_tab()
    sign_in(tab.page, live_server, role)
    page = tab.page

    headings = page.get_by_role("heading", level=1)
    expect(headings).to_have_count(1)
    expect(headings).to_contain_text(DEMO[role].heading)
    expect(page.get_by_role("main")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    current = page.get_by_role("navigation", name="Main").locator("[aria-current=page]")
    expect(current).to_have_attribute("href", DEMO[role].start_page)
    assert tab.problems == []


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("assistant", "/devices"),
        ("pupil", "/pupils"),
        ("pupil", "/devices"),
        ("coordinator", "/staff"),
    ],
)
def test_a_role_is_refused_pages_that_are_not_its_own(
    live_server: LiveServer, open_tab: Callable[[], Tab], role: str, path: str
) -> None:
    tab = open_tab()
    sign_in(tab.page, live_server, role)

    response = tab.page.goto(live_server.url(path))

    assert response is not None
    assert response.status == 403
    if response.headers["content-type"].startswith("application/problem+json"):
        problem = json.loads(response.text())
        assert problem["status"] == 403
        assert role in problem["detail"]
    else:  # a page for people is as good, as long as it shows nothing of what was refused
        expect(tab.page.get_by_role("heading", level=1)).to_have_count(1)
        expect(tab.page.locator("table")).to_have_count(0)


def test_signing_out_revokes_the_session_cookie(
    live_server: LiveServer, open_tab: Callable[[], Tab]
) -> None:
    tab = open_tab()
    sign_in(tab.page, live_server, "hospital_staff")
    (cookie,) = [c for c in tab.context.cookies() if c["name"] == "cb_session"]

    tab.page.get_by_role("button", name="Sign out").click()
    tab.page.wait_for_url(live_server.url("/login"))
    assert [c for c in tab.context.cookies() if c["name"] == "cb_session"] == []

    # Someone who copied the cookie before sign-out gets nowhere with it.
    thief = open_tab()
    thief.context.add_cookies([cookie])
    response = thief.page.goto(live_server.url("/pupils"))
    assert response is not None
    assert thief.page.url == live_server.url("/login?next=/pupils")
    expect(thief.page.get_by_role("heading", level=1)).to_have_text("Sign in")
    api = thief.context.request.get(live_server.url("/api/pupils"))
    assert api.status == 401


def test_signing_out_in_one_tab_stops_live_updates_in_another(
    live_server: LiveServer, open_tab: Callable[[], Tab]
) -> None:
    tab = open_tab()
    sign_in(tab.page, live_server, "coordinator")
    fleet = tab.page
    expect(fleet.locator("#fleet")).to_have_attribute("data-live", "open")

    other = tab.context.new_page()
    other.goto(live_server.url("/schools"))
    other.get_by_role("button", name="Sign out").click()
    other.wait_for_url(live_server.url("/login"))

    # The server re-checks an open stream's session every few seconds, then the
    # browser's reconnection is refused, and the page says so instead of going stale.
    expect(fleet.locator("#fleet")).to_have_attribute("data-live", "closed", timeout=15_000)
    expect(fleet.locator("#live-state")).to_have_text("live updates stopped: reload the page")
