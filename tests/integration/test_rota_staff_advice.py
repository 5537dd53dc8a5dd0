"""The staff rota says before the day what staff can do: a walk longer than the time between
two lessons, and, when the only assistant who could do a move can't, who else could and at
what cost (issue 16)."""

from __future__ import annotations

import html

from integration.rota_helpers import add_assistant, on_duty_all_week, robbie_tomorrow
from integration.test_pages import sign_in

from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import User

KIM = "kim@test.example"
MORNINGS = [{"weekday": d, "start": "07:00", "end": "09:00"} for d in range(7)]


async def _staff_page(client, org, day) -> str:
    client.session.cookie_jar.clear()
    await sign_in(client, org.email("coordinator"))
    page = await client.get(f"/schools/{org.school_id}/rota?date={day.isoformat()}")
    assert page.status == 200
    return html.unescape(await page.text())


async def test_back_to_back_lessons_in_rooms_apart_are_marked_before_the_day(client, org, login):
    admin = await login("admin")
    await on_duty_all_week(client, admin, org.users["assistant"].id)
    _, day = await robbie_tomorrow(
        client, org, ("10:00", "10:50", "Lab 3"), ("10:50", "11:40", "S12")
    )
    text = await _staff_page(client, org, day)
    assert "Needs you before the day" in text
    assert (
        "Too short to walk: 0 min between the lessons, carrying it from Lab 3 to S12 takes "
        "about 3 min. Ask the teacher of the earlier lesson to let the robot leave 3 min early"
    ) in text
    # The first move of the day has an hour: nothing to say about it.
    assert text.count("Too short to walk") == 1


async def test_with_lessons_apart_nothing_is_flagged(client, org, login):
    admin = await login("admin")
    await on_duty_all_week(client, admin, org.users["assistant"].id)
    _, day = await robbie_tomorrow(
        client, org, ("10:00", "10:50", "Lab 3"), ("11:00", "11:50", "S12")
    )
    text = await _staff_page(client, org, day)
    assert "Too short to walk" not in text
    assert "Needs you before the day" not in text


async def test_when_the_only_one_on_duty_cant_staff_see_who_else_could(client, org, login):
    admin = await login("admin")
    await on_duty_all_week(client, admin, org.users["assistant"].id)
    kim = await add_assistant(client.app[DATABASE], org, KIM)
    async with client.app[DATABASE].transaction() as session:
        user = await session.get(User, kim)
        assert user is not None
        user.name = "Kim Lee"
    resp = await client.put(
        f"/api/assistants/{kim}/duty", json={"patterns": MORNINGS}, headers=admin
    )
    assert resp.status == 200, await resp.text()
    _, day = await robbie_tomorrow(
        client, org, ("10:00", "10:50", "Lab 3"), ("11:00", "11:50", "S12")
    )
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    second = (await (await client.get(url, headers=admin)).json())["moves"][1]
    assistant = await login("assistant")
    resp = await client.post(
        f"/api/moves/{second['id']}/cant", json={"reason": "lift broken"}, headers=assistant
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["assistant_id"] is None
    text = await _staff_page(client, org, day)
    # Kim is off duty then: how far past her hours it would take her; never the same
    # person who just said they can't.
    kim_line = "Kim Lee: off duty or on a break then (working 07:00 to 09:00), 120 min extra"
    assert f"Who else could: {kim_line}" in text
    assert "Who else could: Test assistant" not in text
