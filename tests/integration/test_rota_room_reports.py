"""Rooms reported by a fleet connecting at once: one query, and only done moves are checked.

After a restart or on a first connection every robot reports a room. Only a
robot with a move marked done can contradict it (``check_reported_room``), so
the listener asks once which of the reporting robots have one and checks only
those: 200 rooms from robots with no done move cost no per-robot transaction,
and the robot whose done move they contradict is still flagged.
"""

from __future__ import annotations

import asyncio

from factories import add_device
from integration.rota_helpers import LAB_THEN_S12, on_duty_all_week, robbie_tomorrow

from device_registry.hub import CHANGES_TOPIC
from scheduler.rota import listener
from telepresence.platform.http.context import DATABASE, EVENTS


async def test_a_fleets_rooms_cost_one_query_and_a_contradiction_is_still_flagged(
    client, org, login, monkeypatch
):
    admin = await login("admin")
    await on_duty_all_week(client, admin, org.users["assistant"].id)
    first, second = LAB_THEN_S12
    robot_id, day = await robbie_tomorrow(client, org, (first[0], *first[1:]), second)
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    moves = (await (await client.get(url, headers=admin)).json())["moves"]
    done = await client.post(f"/api/moves/{moves[0]['id']}/done", json={}, headers=admin)
    assert done.status == 200
    fleet = [
        (await add_device(client.app[DATABASE], org, serial=f"FLEET-{n:04d}", name=f"R{n}")).id
        for n in range(200)
    ]
    checked: list[str] = []
    one_by_one = listener.on_device_change

    async def counted(app, change):
        checked.append(str(change["device_id"]))
        await one_by_one(app, change)

    monkeypatch.setattr(listener, "on_device_change", counted)
    async with client.app[EVENTS].subscribe(f"rota:{org.school_id}") as rota:
        for device_id in [*fleet, robot_id]:
            client.app[EVENTS].publish(
                CHANGES_TOPIC, {"device_id": device_id, "reported_room": "S12"}
            )
        event = await asyncio.wait_for(rota.get(), 5)
    assert event == {"kind": "contradiction", "move": moves[0]["id"]}
    assert checked == [robot_id]
