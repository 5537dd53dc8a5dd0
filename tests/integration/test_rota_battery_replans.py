"""The battery rule in the service: telemetry and the morning plan feed it the latest reading.

Robbie (base S12) has two lessons in Lab 3 tomorrow, 09:00-10:00 and 13:00-14:00;
it uses 15 % an hour. From 08:00 with 35 % it would end the second lesson at
5 %: a charge trip goes in the gap (Lab 3 → S12 by 10:15, back by 13:00).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from typing import Any

from factories import add_device
from integration.rota_helpers import LONDON, on_duty_all_week, robbie_tomorrow
from integration.test_pages import sign_in
from sqlalchemy import select

from device_registry.domain import LiveTelemetry, NetworkType
from device_registry.hub import CHANGES_TOPIC, DeviceHub, Link
from device_registry.models import Device
from scheduler.rota.jobs import send_morning_rotas
from scheduler.rota.listener import on_device_change
from scheduler.rota.models import MoveRow, RotaChangeRow
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS, JOBS


async def _robot_day(client, org, login, clock):
    await on_duty_all_week(client, await login("admin"), org.users["assistant"].id)
    lessons = (("09:00", "10:00", "Lab 3"), ("13:00", "14:00", "Lab 3"))
    robot_id, day = await robbie_tomorrow(client, org, *lessons)
    eight = datetime(day.year, day.month, day.day, 8, tzinfo=LONDON)
    clock.offset = eight.astimezone(UTC) - datetime.now(UTC)
    return robot_id, day, await login("admin")  # signed in again at the new time


async def _read(client, robot_id: str, pct: int, *, charging: bool = False) -> None:
    """A heartbeat as the device hub writes it (battery now)."""
    async with client.app[DATABASE].transaction() as db:
        device = await db.get(Device, robot_id)
        assert device is not None
        device.battery_pct, device.charging = pct, charging
        device.last_seen_at, device.online = client.app[CLOCK].now(), True


async def _rows(client, day) -> list[MoveRow]:
    async with client.app[DATABASE].sessions() as db:
        found = await db.scalars(
            select(MoveRow).where(MoveRow.local_date == day).order_by(MoveRow.due)
        )
        return list(found)


def _shape(rows: list[MoveRow]) -> list[tuple[str, str, str]]:
    return [(r.reason, r.from_room_name, r.to_room_name) for r in rows]


async def _changed_notices(client, login) -> list[dict[str, Any]]:
    mine = await (await client.get("/api/notifications", headers=await login("assistant"))).json()
    return [n for n in mine if n["kind"] == "rota_changed"]


WITHOUT_TRIP = [("from_base", "S12", "Lab 3"), ("to_base", "Lab 3", "S12")]
WITH_TRIP = [
    ("from_base", "S12", "Lab 3"),
    ("charge", "Lab 3", "S12"),
    ("from_base", "S12", "Lab 3"),
    ("to_base", "Lab 3", "S12"),
]


async def test_a_low_reading_adds_a_charge_trip_once_and_tells_the_assistant(
    client, org, login, clock
):
    robot_id, day, admin = await _robot_day(client, org, login, clock)
    await _read(client, robot_id, 90)
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    assert (await client.get(url, headers=admin)).status == 200
    assert _shape(await _rows(client, day)) == WITHOUT_TRIP
    before = len(await _changed_notices(client, login))

    # (A minute later: notices of one assistant within one second are one notice.)
    clock.advance(timedelta(minutes=1))
    await _read(client, robot_id, 35)
    await on_device_change(client.app, {"device_id": robot_id, "battery_pct": 35})
    rows = await _rows(client, day)
    assert _shape(rows) == WITH_TRIP
    assert {r.assistant_id for r in rows} == {org.users["assistant"].id}
    changed = await _changed_notices(client, login)
    assert len(changed) == before + 1
    async with client.app[DATABASE].sessions() as db:
        notes = list(await db.scalars(select(RotaChangeRow.text)))
    assert "new for you: Lab 3 → S12 by 10:15" in notes

    # Readings drifting down (33 %) or a little up (42 %) change nothing: same ids,
    # same versions, nobody told again.
    versions = {r.id: r.version for r in rows}
    for pct in (33, 42):
        clock.advance(timedelta(minutes=10))
        await _read(client, robot_id, pct)
        await on_device_change(client.app, {"device_id": robot_id, "battery_pct": pct})
        assert {r.id: r.version for r in await _rows(client, day)} == versions
    assert len(await _changed_notices(client, login)) == before + 1

    # Charged to 80 % before school: the trip is no longer needed.
    await _read(client, robot_id, 80)
    await on_device_change(client.app, {"device_id": robot_id, "battery_pct": 80})
    assert _shape(await _rows(client, day)) == WITHOUT_TRIP


async def test_done_moves_stay_and_a_trip_under_way_is_kept(client, org, login, clock):
    robot_id, day, admin = await _robot_day(client, org, login, clock)
    await _read(client, robot_id, 35)
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    assert (await client.get(url, headers=admin)).status == 200
    first, charge, *_ = await _rows(client, day)
    assistant = await login("assistant")
    for move in (first, charge):
        resp = await client.post(f"/api/moves/{move.id}/done", json={}, headers=assistant)
        assert resp.status == 200, await resp.text()
    # 10:30, on the base and charging fast: the trip it is on stays, done moves stay done.
    clock.advance(timedelta(hours=2, minutes=30))
    await _read(client, robot_id, 95, charging=True)
    await on_device_change(client.app, {"device_id": robot_id, "battery_pct": 95})
    rows = await _rows(client, day)
    assert _shape(rows) == WITH_TRIP
    assert [r.status for r in rows[:2]] == ["done", "done"]


async def test_a_stale_reading_decides_nothing_new(client, org, login, clock):
    robot_id, day, admin = await _robot_day(client, org, login, clock)
    await _read(client, robot_id, 35)
    clock.advance(timedelta(hours=1))  # the robot went quiet an hour ago
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    assert (await client.get(url, headers=admin)).status == 200
    assert _shape(await _rows(client, day)) == WITHOUT_TRIP


async def test_the_morning_plan_uses_the_morning_reading_once(client, org, login, clock):
    robot_id, day, admin = await _robot_day(client, org, login, clock)
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    assert (await client.get(url, headers=admin)).status == 200  # planned without a reading
    assert _shape(await _rows(client, day)) == WITHOUT_TRIP
    await _read(client, robot_id, 35)
    context = client.app[JOBS].context
    assert await send_morning_rotas(context) == 1
    assert _shape(await _rows(client, day)) == WITH_TRIP
    mine = await (await client.get("/api/notifications", headers=await login("assistant"))).json()
    [morning] = [n for n in mine if n["kind"] == "morning_rota"]
    assert "Today's moves (4)" in morning["subject"]
    # Later runs of the morning job neither re-plan nor re-send.
    await _read(client, robot_id, 80)
    assert await send_morning_rotas(context) == 0
    assert _shape(await _rows(client, day)) == WITH_TRIP


async def test_the_hub_announces_battery_bands_after_writing_them(client, org):
    robot = await add_device(client.app[DATABASE], org)
    app = client.app
    hub = DeviceHub(app[DATABASE], app[CLOCK], app[EVENTS])
    now = app[CLOCK].now()
    link = Link(ws=None, device_id=robot.id, provider_id=org.provider_id, last_seen=now)  # type: ignore[arg-type]
    seen: list[dict[str, Any]] = []
    async with app[EVENTS].subscribe(CHANGES_TOPIC) as queue:
        for pct in (64, 61, 58, 58):
            hub.report(link, _telemetry(app, pct))
            await hub.flush()
            while not queue.empty():
                seen.append(queue.get_nowait())
    assert [e["battery_pct"] for e in seen if "battery_pct" in e] == [64, 58]
    async with app[DATABASE].sessions() as db:
        device = await db.get(Device, robot.id)
        assert device is not None
        assert device.battery_pct == 58


def _telemetry(app, pct: int) -> LiveTelemetry:
    return LiveTelemetry(app[CLOCK].now(), pct, False, -60, NetworkType.WIFI, None)


async def test_staff_are_told_when_a_robot_will_not_last_a_lesson(client, org, login, clock):
    robot_id, day, admin = await _robot_day(client, org, login, clock)
    await _read(client, robot_id, 12)  # 12 % at 08:00, off its charger: not even 09:00-10:00
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    assert (await client.get(url, headers=admin)).status == 200
    await on_device_change(client.app, {"device_id": robot_id, "battery_pct": 12})
    staff = await login("hospital_staff")
    mine = await (await client.get("/api/notifications", headers=staff)).json()
    low = [n for n in mine if n["kind"] == "battery_low"]
    assert len(low) == 1  # once per lesson, however often the day is re-planned
    assert low[0]["subject"] == "Robot 'Robbie' may not last Maths"
    assert "during Maths at 09:00 for Sam K." in low[0]["body"]
    # Nothing for the assistant: it is not a move.
    theirs = await (await client.get("/api/notifications", headers=await login("assistant"))).json()
    assert [n for n in theirs if n["kind"] == "battery_low"] == []
    # Staff see it on the school's rota too (API and page), and only while it holds.
    rota = await (await client.get(url, headers=admin)).json()
    [said] = rota["battery_warnings"]
    assert said.startswith("Robot 'Robbie' may run out of battery in the lesson at 09:00")
    await sign_in(client, org.email("admin"))
    page = await (await client.get(f"/schools/{org.school_id}/rota?date={day}&live=1")).text()
    assert said in html.unescape(page)
    await _read(client, robot_id, 95)
    assert (await (await client.get(url, headers=admin)).json())["battery_warnings"] == []
