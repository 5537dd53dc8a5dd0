"""An assistant follows the rota on a phone, confirms a move, and the staff view shows it done;
then says they can't do the next one, and the staff view shows why.

The test makes its own school day through the API (a school whose zone puts
"now" at mid-morning, a robot, a pupil, a lesson within the hour, an
assistant on duty), so it does not depend on today being a school day.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from live_server import LiveServer, Tab, ok, school_at_mid_morning, sign_in, watch
from playwright.sync_api import (
    APIRequestContext,
    Browser,
    ViewportSize,
    expect,
)

pytestmark = pytest.mark.e2e

PHONE: ViewportSize = {"width": 390, "height": 844}
PASSWORD = "rota-e2e-password"


@dataclass(frozen=True)
class RotaDay:
    school_id: str
    assistant_email: str
    summary: str


@pytest.fixture
def rota_day(api: APIRequestContext) -> RotaDay:
    """A school with a robot booked in Room 5 within the hour, fetched from the Hall."""
    tag = secrets.token_hex(3)
    school, zone = school_at_mid_morning(api, f"Rota School {tag}")
    local = datetime.now(zone)
    rooms = {
        name: ok(api.post(f"/api/schools/{school['id']}/rooms", data={"name": name}), 201)["id"]
        for name in ("Hall", "Room 5")
    }
    email = f"ali.{tag}@rota.example"
    ok(
        api.post(
            "/api/users",
            data={
                "email": email,
                "name": "Ali Test",
                "role": "assistant",
                "school_id": school["id"],
                "password": PASSWORD,
            },
        ),
        201,
    )
    users = ok(api.get("/api/users"))
    assistant_id = next(u["id"] for u in users if u["email"] == email)
    pupil = ok(
        api.post(
            "/api/pupils",
            data={"first_name": "Zoe", "last_name": "Quinn", "school_id": school["id"]},
        ),
        201,
    )
    robot = ok(
        api.post(
            "/api/devices",
            data={
                "serial": f"E2E-{tag}",
                "name": "Rover",
                "model": "AV1",
                "kind": "robot",
                "school_id": school["id"],
                "pupil_id": pupil["id"],
                "charging_base_room_id": rooms["Hall"],
            },
        ),
        201,
    )
    today = local.date()
    start = (local + timedelta(minutes=40)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 5)
    end = start + timedelta(minutes=50)
    csv = f"Day,Subject,Start,End,Room\r\n{start:%A},Maths,{start:%H:%M},{end:%H:%M},Room 5\r\n"
    ok(
        api.post(
            f"/api/pupils/{pupil['id']}/timetable?format=csv&file_name=zoe.csv",
            data=csv.encode(),
            headers={"Content-Type": "text/csv"},
        )
    )
    occurrences = ok(api.get(f"/api/pupils/{pupil['id']}/occurrences?from={today}&to={today}"))
    lesson_id = occurrences[0]["lesson_id"]
    ok(
        api.post(
            f"/api/pupils/{pupil['id']}/bookings",
            data={"lesson_id": lesson_id, "date": str(today), "classroom_device_id": robot["id"]},
        ),
        201,
    )
    duty = [{"weekday": d, "start": "00:00", "end": "23:59"} for d in range(7)]
    ok(api.put(f"/api/assistants/{assistant_id}/duty", data={"patterns": duty}))
    summary = f"Robot 'Rover' · from Hall to Room 5 · by {start:%H:%M} · for Zoe Q."
    return RotaDay(school["id"], email, summary)


@pytest.fixture
def phone(chromium: Browser) -> Iterator[Tab]:
    """A phone-sized, touch tab with its own cookies."""
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    problems: list[str] = []
    context.on("page", lambda page: watch(page, problems))
    yield Tab(context.new_page(), problems)
    context.close()


def test_assistant_confirms_on_a_phone_and_staff_see_it_done(
    live_server: LiveServer, open_tab: Callable[[], Tab], phone: Tab, rota_day: RotaDay
) -> None:
    staff = open_tab()
    sign_in(staff.page, live_server, "coordinator")
    staff.page.goto(live_server.url(f"/schools/{rota_day.school_id}/rota"))
    row = staff.page.locator("tr", has_text=rota_day.summary)
    # "Reminded" once the leader's reminder job has run (the move is due soon).
    expect(row.locator('[data-field="status"]')).to_contain_text(re.compile("To do|Reminded"))

    page = phone.page
    page.goto(live_server.url("/login"))
    page.get_by_label("Email").fill(rota_day.assistant_email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url("/assistant"))
    move = page.locator("li.move", has_text=rota_day.summary)
    expect(move).to_be_visible()
    expect(move).to_contain_text(re.compile(r"in \d+ min"))
    done = move.get_by_role("button", name="Done", exact=True)
    box = done.bounding_box()
    assert box is not None
    assert box["height"] >= 44  # a thumb-sized target
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    done.tap()
    page.wait_for_url(live_server.url("/assistant"))
    confirmed = page.locator("li.move", has_text=rota_day.summary)
    expect(confirmed.locator(".pill")).to_have_text("Done")
    expect(confirmed.get_by_role("button", name="Done", exact=True)).to_have_count(0)
    # The robot goes back to its base after the lesson: that move is still to do.
    expect(page.get_by_role("button", name="Done", exact=True)).to_have_count(1)

    # The staff page was open all along: the rota event updates it without a reload.
    expect(row.locator('[data-field="status"]')).to_contain_text("Done")
    expect(staff.page.locator("tr", has_text=rota_day.summary)).to_contain_text("Ali Test at")

    # The move back to the base: the assistant can't do it, and says why; it leaves their
    # list, and the staff page (live) shows why, with nobody else on duty to take it.
    back = page.locator("li.move", has_text="from Room 5 to Hall")
    back.get_by_text("Can't do it").tap()
    back.get_by_label("Other").check()
    back.get_by_label("In a few words").fill("Fire drill at the end of the lesson")
    back.get_by_role("button", name="Send").tap()
    page.wait_for_url(live_server.url("/assistant"))
    expect(page.locator("li.move", has_text="from Room 5 to Hall")).to_have_count(0)
    staff_back = staff.page.locator("tr", has_text="from Room 5 to Hall")
    expect(staff_back).to_contain_text("Ali Test can't: Fire drill at the end of the lesson")
    status = staff_back.locator('[data-field="status"]')
    expect(status).to_contain_text(re.compile("Nobody yet|Escalated"))
    assert phone.problems == []
    assert staff.problems == []
