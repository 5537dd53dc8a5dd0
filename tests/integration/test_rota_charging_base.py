"""Every robot ends the day on its charger: a robot with no charging base is flagged on its
page, and setting one (page or API) gives the rota the trip back to it at once (issue 16)."""

from __future__ import annotations

import asyncio

from factories import add_device
from integration.rota_helpers import add_lesson, on_duty_all_week, tomorrow
from integration.test_pages import csrf_of, sign_in

from telepresence.platform.http.context import DATABASE


async def _reasons(client, org, day, headers) -> list[str]:
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    body = await (await client.get(url, headers=headers)).json()
    return [m["reason"] for m in body["moves"]]


async def _eventually(check, want) -> None:
    for _ in range(100):  # the rota listener re-plans half a second after the change
        if await check() == want:
            return
        await asyncio.sleep(0.05)
    assert await check() == want


async def _robot_without_base(client, org, login):
    admin = await login("admin")
    await on_duty_all_week(client, admin, org.users["assistant"].id)
    s12, _lab3 = org.room_ids
    robot = await add_device(client.app[DATABASE], org, last_known_room_id=s12)
    day = tomorrow()
    await add_lesson(client.app[DATABASE], org, robot.id, day, "10:00", "10:50", "Lab 3")
    assert await _reasons(client, org, day, admin) == ["to_lesson"]  # and never back
    return robot.id, day, admin


async def test_a_robot_without_a_charging_base_is_flagged_and_setting_one_plans_the_trip_back(
    client, org, login
):
    robot_id, day, admin = await _robot_without_base(client, org, login)
    await sign_in(client, org.email("admin"))
    fleet = await (await client.get("/devices")).text()
    assert fleet.count("No charging base set") == 1
    page = await (await client.get(f"/devices/{robot_id}")).text()
    assert "No charging base set" in page
    resp = await client.post(
        f"/devices/{robot_id}/lifecycle",
        data={"csrf_token": csrf_of(page), "action": "base", "base_room_id": org.room_ids[0]},
    )
    assert resp.status == 200
    after = await resp.text()
    assert "No charging base set" not in after
    assert "<dt>Charging base</dt><dd>S12</dd>" in after
    assert "No charging base set" not in await (await client.get("/devices")).text()
    await _eventually(lambda: _reasons(client, org, day, admin), ["from_base", "to_base"])


async def test_setting_the_base_through_the_api_plans_the_trip_back_too(client, org, login):
    robot_id, day, admin = await _robot_without_base(client, org, login)
    resp = await client.patch(
        f"/api/devices/{robot_id}",
        json={"charging_base_room_id": org.room_ids[0]},
        headers=admin,
    )
    assert resp.status == 200, await resp.text()
    await _eventually(lambda: _reasons(client, org, day, admin), ["from_base", "to_base"])


async def test_coordinators_see_the_flag_but_not_the_form(client, org, login):
    robot_id, _day, _admin = await _robot_without_base(client, org, login)
    await sign_in(client, org.email("coordinator"))
    page = await (await client.get(f"/devices/{robot_id}")).text()
    assert "No charging base set" in page
    assert "Ask an administrator to set its charging base." in page
    assert 'name="base_room_id"' not in page
