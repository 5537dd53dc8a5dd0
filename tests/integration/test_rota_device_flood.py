"""Thousands of robots reporting at once: the rota hears the latest battery of every one.

The rota's subscription to device changes used to be a 100-event queue that dropped the
oldest: in a flood (a restart, a fleet coming online) most robots' batteries were lost.
"""

from __future__ import annotations

import asyncio

from device_registry.hub import CHANGES_TOPIC
from scheduler.rota import listener
from telepresence.platform.http.context import EVENTS

ROBOTS = 3000


async def test_a_flood_of_battery_readings_reaches_the_rota_for_every_robot(client, monkeypatch):
    heard: dict[str, None] = {}

    async def recording(_app, device_ids):
        heard.update(dict.fromkeys(device_ids))

    monkeypatch.setattr(listener, "on_battery_readings", recording)
    events = client.app[EVENTS]
    for n in range(3 * ROBOTS):  # every robot reports three times before the rota wakes
        events.publish(CHANGES_TOPIC, {"device_id": f"robot-{n % ROBOTS}", "battery_pct": n % 100})
    for _ in range(100):
        if len(heard) == ROBOTS:
            break
        await asyncio.sleep(0.1)
    assert len(heard) == ROBOTS


async def test_a_flood_keeps_each_robots_latest_room_and_its_staff_change(client, monkeypatch):
    rooms: dict[str, str] = {}
    staff: list[dict[str, object]] = []

    async def devices_moved(_session, device_ids):
        return set(device_ids)

    async def on_change(_app, change):
        if "lifecycle" in change:
            staff.append(change)
        else:
            rooms[change["device_id"]] = change["reported_room"]

    monkeypatch.setattr(listener, "devices_with_done_moves", devices_moved)
    monkeypatch.setattr(listener, "on_device_change", on_change)
    events = client.app[EVENTS]
    events.publish(CHANGES_TOPIC, {"device_id": "robot-7", "lifecycle": "maintenance"})
    for n in range(2 * ROBOTS):
        room = "S1" if n < ROBOTS else "S2"
        events.publish(CHANGES_TOPIC, {"device_id": f"robot-{n % ROBOTS}", "reported_room": room})
    for _ in range(100):
        if len(rooms) == ROBOTS:
            break
        await asyncio.sleep(0.1)
    assert rooms == {f"robot-{n}": "S2" for n in range(ROBOTS)}
    assert staff == [{"device_id": "robot-7", "lifecycle": "maintenance"}]
