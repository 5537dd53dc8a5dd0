"""A burst of device changes (every robot reconnecting after a restart) re-plans each school's
today once, not once per reading; and the burst's readings are all taken into account."""

from __future__ import annotations

import asyncio

from factories import add_device
from integration.rota_helpers import add_lesson
from integration.test_rota_battery_replans import WITH_TRIP, _read, _robot_day, _rows, _shape

from device_registry.hub import CHANGES_TOPIC
from scheduler.rota import listener
from scheduler.rota.services import replan_days
from telepresence.platform.http.context import DATABASE, EVENTS


async def test_a_burst_of_readings_re_plans_the_school_once(client, org, login, clock, monkeypatch):
    robot_id, day, admin = await _robot_day(client, org, login, clock)
    other = await add_device(client.app[DATABASE], org, serial="ROBOT-0002", name="Nova")
    await add_lesson(client.app[DATABASE], org, other.id, day, "11:00", "11:50", "S12")
    await _read(client, robot_id, 90)
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    assert (await client.get(url, headers=admin)).status == 200

    replanned: list[tuple[str, object]] = []

    async def counting(session, school_id, days, now):
        days = list(days)
        replanned.extend((school_id, d) for d in days)
        return await replan_days(session, school_id, days, now)

    monkeypatch.setattr(listener, "replan_days", counting)
    await _read(client, robot_id, 35)
    events = client.app[EVENTS]
    for change in (
        {"device_id": robot_id, "battery_pct": 60},
        {"device_id": other.id, "battery_pct": 80},
        {"device_id": robot_id, "battery_pct": 35},
        {"device_id": other.id, "charging": False, "battery_pct": 80},
    ):
        events.publish(CHANGES_TOPIC, change)

    for _ in range(100):
        if _shape(await _rows(client, day))[:2] == WITH_TRIP[:2]:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(3 * listener.SETTLE_SECONDS)  # nothing more comes
    assert replanned == [(org.school_id, day)]
    assert [r for r in _shape(await _rows(client, day)) if r[0] == "charge"] == [WITH_TRIP[1]]
