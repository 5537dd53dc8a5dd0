"""Registering a device in the fleet page (issue 16): a tablet gets a tablet's capabilities,
a charging base can be chosen, the new device is confirmed and highlighted, and the device
page's "Where is it now?" starts at the room the device is really in."""

from __future__ import annotations

import re

from factories import PASSWORD, add_device
from sqlalchemy import select

from device_registry.models import Device
from telepresence.platform.http.context import DATABASE


async def admin_csrf(client, org) -> str:
    resp = await client.post(
        "/login",
        data={"email": org.email("admin"), "password": PASSWORD, "next": ""},
        allow_redirects=False,
    )
    assert resp.status == 303
    html = await (await client.get("/devices")).text()
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match is not None
    return match.group(1)


ROBOT_TICKS = {
    f"cap_{c}": "on"
    for c in ("camera", "microphone", "speaker", "head_pan_tilt", "lights", "battery")
}


async def test_a_tablet_registered_from_a_form_ticked_for_a_robot_gets_a_tablets_capabilities(
    client, org
):
    csrf = await admin_csrf(client, org)
    form = {
        "csrf_token": csrf,
        "kind": "tablet",
        "name": "Sam's new tablet",
        "serial": "TAB-9001",
        "model": "iPad",
    }
    resp = await client.post("/devices", data=form | ROBOT_TICKS, allow_redirects=False)
    assert resp.status == 303
    async with client.app[DATABASE].sessions() as session:
        tablet = await session.scalar(select(Device).where(Device.serial == "TAB-9001"))
    assert sorted(tablet.capabilities) == ["battery", "camera", "microphone", "speaker"]


async def test_the_form_offers_each_kinds_defaults_and_the_api_refuses_a_tablet_with_a_head(
    client, org, login
):
    await admin_csrf(client, org)
    html = await (await client.get("/devices")).text()
    assert "data-capability-defaults=" in html
    assert 'name="charging_base_room_id"' in html
    admin = await login("admin")
    body = {
        "serial": "TAB-9002",
        "name": "T",
        "model": "iPad",
        "kind": "tablet",
        "capabilities": ["camera", "head_pan_tilt"],
    }
    refused = await client.post("/api/devices", json=body, headers=admin)
    assert refused.status == 422
    assert (await refused.json())["errors"][0]["field"] == "capabilities"


async def test_a_new_device_is_confirmed_highlighted_and_gets_its_charging_base(client, org):
    csrf = await admin_csrf(client, org)
    base = org.room_ids[1]
    form = {
        "csrf_token": csrf,
        "kind": "robot",
        "name": "Comet",
        "serial": "ROBOT-COMET",
        "model": "AV1",
        "school_id": org.school_id,
        "charging_base_room_id": base,
    } | ROBOT_TICKS
    resp = await client.post("/devices", data=form, allow_redirects=False)
    assert resp.status == 303
    async with client.app[DATABASE].sessions() as session:
        robot = await session.scalar(select(Device).where(Device.serial == "ROBOT-COMET"))
    assert robot.charging_base_room_id == base
    assert "head_pan_tilt" in robot.capabilities
    assert resp.headers["Location"] == f"/devices?registered={robot.id}#d-{robot.id}"
    html = await (await client.get(resp.headers["Location"])).text()
    assert "Robot “Comet” is registered." in html
    assert f'id="d-{robot.id}" class="highlight"' in html
    assert html.count('class="highlight"') == 1


async def test_a_charging_base_in_another_school_is_refused(client, org):
    csrf = await admin_csrf(client, org)
    form = {
        "csrf_token": csrf,
        "kind": "robot",
        "name": "X",
        "serial": "ROBOT-X1",
        "model": "AV1",
        "charging_base_room_id": "0" * 32,
    }
    resp = await client.post("/devices", data=form, allow_redirects=False)
    assert resp.status == 422
    async with client.app[DATABASE].sessions() as session:
        assert await session.scalar(select(Device).where(Device.serial == "ROBOT-X1")) is None


async def test_where_is_it_now_starts_at_the_devices_real_room(client, org):
    known = await add_device(client.app[DATABASE], org, last_known_room_id=org.room_ids[1])
    reported = await add_device(
        client.app[DATABASE], org, serial="ROBOT-0002", name="Nova", reported_room="lab 3"
    )
    lost = await add_device(client.app[DATABASE], org, serial="ROBOT-0003", name="Pip")
    await admin_csrf(client, org)

    def chosen(html: str) -> str:
        select_html = html[html.index('<select id="room_id"') :]
        select_html = select_html[: select_html.index("</select>")]
        match = re.search(r'<option value="(\w*)" selected>', select_html)
        assert match is not None
        return match.group(1)

    assert chosen(await (await client.get(f"/devices/{known.id}")).text()) == org.room_ids[1]
    assert chosen(await (await client.get(f"/devices/{reported.id}")).text()) == org.room_ids[1]
    assert chosen(await (await client.get(f"/devices/{lost.id}")).text()) == ""


async def test_fleet_and_device_times_are_the_schools_local_time(client, org):
    from datetime import UTC, datetime

    seen = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)  # 10:30 in London (summer time)
    robot = await add_device(client.app[DATABASE], org, last_seen_at=seen)
    await admin_csrf(client, org)
    fleet = await (await client.get("/devices")).text()
    assert ">1 Jun 10:30</time>" in fleet
    assert "Times are each school's local time (Europe/London)." in fleet
    assert "UTC" not in fleet
    page = await (await client.get(f"/devices/{robot.id}")).text()
    assert "1 Jun 2026 10:30 (Europe/London)" in page
