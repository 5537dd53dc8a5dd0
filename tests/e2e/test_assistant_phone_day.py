"""The classroom assistant's day on a phone (390x844): clock times and the robot's state on
each move, "Done" taken back, "Can't do it" with a quick reason, tomorrow one tap away
(issue 16).

The test makes its own school (where it is mid-morning now), robot, pupil and assistant
through the API, with a lesson today within the hour and one tomorrow at the same time.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from live_server import LiveServer, Tab, ok, school_at_mid_morning, watch
from playwright.sync_api import APIRequestContext, Browser, Page, ViewportSize, expect

pytestmark = pytest.mark.e2e

PHONE: ViewportSize = {"width": 390, "height": 844}
PASSWORD = "rota-e2e-password"


@dataclass(frozen=True)
class Day:
    assistant_email: str
    due: str  # HH:MM the robot must be in Room 5 by, today and tomorrow


@pytest.fixture
def day(api: APIRequestContext) -> Day:
    tag = secrets.token_hex(3)
    school, zone = school_at_mid_morning(api, f"Phone Day School {tag}")
    sid = school["id"]
    rooms = {
        name: ok(api.post(f"/api/schools/{sid}/rooms", data={"name": name}), 201)["id"]
        for name in ("Hall", "Room 5")
    }
    email = f"pat.{tag}@phone.example"
    user = {"email": email, "name": "Pat Day", "role": "assistant", "school_id": sid}
    ok(api.post("/api/users", data=user | {"password": PASSWORD}), 201)
    assistant_id = next(u["id"] for u in ok(api.get("/api/users")) if u["email"] == email)
    pupil = ok(
        api.post("/api/pupils", data={"first_name": "Ivy", "last_name": "Moss", "school_id": sid}),
        201,
    )
    robot = ok(
        api.post(
            "/api/devices",
            data={
                "serial": f"PHONE-{tag}",
                "name": "Pip",
                "model": "AV1",
                "kind": "robot",
                "school_id": sid,
                "pupil_id": pupil["id"],
                "charging_base_room_id": rooms["Hall"],
            },
        ),
        201,
    )
    local = datetime.now(zone)
    start = (local + timedelta(minutes=40)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 5)
    end = start + timedelta(minutes=50)
    tomorrow = start + timedelta(days=1)
    csv = "Day,Subject,Start,End,Room\r\n" + "".join(
        f"{when:%A},Maths,{start:%H:%M},{end:%H:%M},Room 5\r\n" for when in (start, tomorrow)
    )
    ok(
        api.post(
            f"/api/pupils/{pupil['id']}/timetable?format=csv&file_name=ivy.csv",
            data=csv.encode(),
            headers={"Content-Type": "text/csv"},
        )
    )
    for when in (start.date(), tomorrow.date()):
        found = ok(api.get(f"/api/pupils/{pupil['id']}/occurrences?from={when}&to={when}"))
        booking = {"lesson_id": found[0]["lesson_id"], "date": str(when)}
        ok(
            api.post(
                f"/api/pupils/{pupil['id']}/bookings",
                data=booking | {"classroom_device_id": robot["id"]},
            ),
            201,
        )
    duty = [{"weekday": d, "start": "00:00", "end": "23:59"} for d in range(7)]
    ok(api.put(f"/api/assistants/{assistant_id}/duty", data={"patterns": duty}))
    return Day(email, f"{start:%H:%M}")


@pytest.fixture
def phone(chromium: Browser) -> Iterator[Tab]:
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    problems: list[str] = []
    context.on("page", lambda page: watch(page, problems))
    yield Tab(context.new_page(), problems)
    context.close()


def _fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_assistants_day_undo_done_quick_reason_and_tomorrow(
    live_server: LiveServer, phone: Tab, day: Day
) -> None:
    page = phone.page
    page.goto(live_server.url("/login"))
    page.get_by_label("Email").fill(day.assistant_email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url("/assistant"))

    there = page.locator("li.move", has_text="from Hall to Room 5")
    # What changed since the last look is folded to one line: the next move stays in view.
    changes = page.locator("details.changes")
    expect(changes).to_be_visible()
    assert changes.get_attribute("open") is None
    first = page.locator("li.move").first.bounding_box()
    assert first is not None
    assert first["y"] + 120 < PHONE["height"]
    expect(there).to_contain_text(f"by {day.due}")
    expect(there).to_contain_text(re.compile(r"in \d+ min"))
    expect(there).not_to_contain_text("min left")
    expect(there.locator(".robot")).to_contain_text("Charger in Hall")
    expect(there.locator(".robot")).to_contain_text("Offline")  # no agent runs for Pip
    _fits(page)

    # Done, then taken back: the move is open again with its Done button.
    there.get_by_role("button", name="Done", exact=True).tap()
    page.wait_for_url(live_server.url("/assistant"))
    there = page.locator("li.move", has_text="from Hall to Room 5")
    expect(there.locator(".pill")).to_have_text("Done")
    undo = there.get_by_role("button", name="Undo “Done”")
    box = undo.bounding_box()
    assert box is not None
    assert box["height"] >= 44
    undo.tap()
    page.wait_for_url(live_server.url("/assistant"))
    there = page.locator("li.move", has_text="from Hall to Room 5")
    expect(there.locator(".pill")).to_have_text(re.compile("To do|Reminded"))
    expect(there.get_by_role("button", name="Done", exact=True)).to_be_visible()
    expect(there.get_by_role("button", name="Undo “Done”")).to_have_count(0)

    # "Can't do it" on the way back to the charger, with a quick reason and no typing.
    back = page.locator("li.move", has_text="from Room 5 to Hall")
    back.get_by_text("Can't do it").tap()
    reason = back.get_by_label("Teaching a class then")
    box = reason.locator("xpath=..").bounding_box()
    assert box is not None
    assert box["height"] >= 44
    reason.check()
    _fits(page)
    back.get_by_role("button", name="Send").tap()
    page.wait_for_url(live_server.url("/assistant"))
    expect(page.locator("li.move", has_text="from Room 5 to Hall")).to_have_count(0)

    # Tomorrow, one tap away: the same robot's moves, to look at (no Done yet).
    page.get_by_role("link", name="Tomorrow").tap()
    page.wait_for_url(live_server.url("/assistant?day=tomorrow"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tomorrow")
    ahead = page.locator("li.move", has_text="from Hall to Room 5")
    expect(ahead).to_contain_text(f"by {day.due}")
    expect(ahead.get_by_role("button", name="Done", exact=True)).to_have_count(0)
    expect(ahead).not_to_contain_text(re.compile(r"in \d+ min"))
    _fits(page)
    page.get_by_role("link", name="Today").tap()
    page.wait_for_url(live_server.url("/assistant"))
    assert phone.problems == []
