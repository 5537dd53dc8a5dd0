"""The rota's pages, live events, iCal feed, telemetry check and maintenance re-plan."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from integration.rota_helpers import LAB_THEN_S12, on_duty_all_week, robbie_tomorrow, tomorrow
from integration.test_pages import csrf_of, sign_in

from device_registry.models import Device
from scheduler.rota.listener import announce_outcomes
from scheduler.rota.models import MoveRow
from scheduler.rota.planning import rota_topic
from scheduler.rota.services import check_reported_room, replan_device
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS


async def _day(client, org, login, start: str = "10:00"):
    """The assistant on duty all week; Robbie booked in Lab 3 then S12 on ``day``."""
    admin = await login("admin")
    await on_duty_all_week(client, admin, org.users["assistant"].id)
    first, second = LAB_THEN_S12
    robot_id, day = await robbie_tomorrow(client, org, (start, *first[1:]), second)
    return robot_id, day, admin


async def _moves(client, org, day, headers):
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    body = await (await client.get(url, headers=headers)).json()
    assert "moves" in body, body
    return body["moves"]


async def test_the_assistant_page_lists_moves_and_done_confirms(client, org, login, clock):
    _, day, admin = await _day(client, org, login)
    # The page shows today: move the clock to the morning of the robot's day.
    moves = await _moves(client, org, day, admin)
    due = datetime.fromisoformat(moves[0]["due"])
    clock.offset = due - timedelta(minutes=30, seconds=30) - datetime.now(UTC)
    await sign_in(client, org.email("assistant"))
    page = await client.get("/assistant")
    html = await page.text()
    assert page.status == 200
    assert "<h1>Hello" in html
    assert "Robot &#39;Robbie&#39; · from S12 to Lab 3 · by 10:00 · for Sam K." in html
    assert "Kowalski" not in html
    assert "in 30 min" in html
    resp = await client.post(
        f"/rota/moves/{moves[0]['id']}/done",
        data={"csrf_token": csrf_of(html), "version": str(moves[0]["version"])},
        allow_redirects=False,
    )
    assert resp.status == 303
    after = await _moves(client, org, day, await login("admin"))  # tokens expired overnight
    assert after[0]["display_status"] == "done"
    client.session.cookie_jar.clear()
    await sign_in(client, org.email("coordinator"))
    staff = await (await client.get(f"/schools/{org.school_id}/rota?date={day}")).text()
    assert "Done" in staff
    assert "Test assistant at" in staff


async def test_cant_do_form_needs_a_reason_and_pins_show_on_the_staff_page(client, org, login):
    _, day, admin = await _day(client, org, login)
    moves = await _moves(client, org, day, admin)
    await sign_in(client, org.email("admin"))
    page = await client.get(f"/schools/{org.school_id}/rota?date={day}")
    html = await page.text()
    assert page.status == 200
    assert 'class="status-assigned' in html
    resp = await client.post(
        f"/schools/{org.school_id}/rota/assign",
        data={
            "csrf_token": csrf_of(html),
            "move_id": moves[1]["id"],
            "assistant_id": org.users["assistant"].id,
        },
        allow_redirects=False,
    )
    assert resp.status == 303
    assert (await _moves(client, org, day, admin))[1]["pinned"] is True
    resp = await client.post(
        f"/rota/moves/{moves[1]['id']}/cant", data={"csrf_token": csrf_of(html), "reason": ""}
    )
    assert resp.status == 422


async def test_rota_events_reach_the_school_topic_only(client, org, login):
    _, day, admin = await _day(client, org, login)
    hub = client.app[EVENTS]
    async with hub.subscribe(rota_topic(org.school_id)) as queue:
        moves = await _moves(client, org, day, admin)
        resp = await client.post(f"/api/moves/{moves[0]['id']}/done", json={}, headers=admin)
        assert resp.status == 200
        events = [await asyncio.wait_for(queue.get(), 2)]
        while not queue.empty():
            events.append(queue.get_nowait())
    assert {"kind": "done", "move": moves[0]["id"]} in events


async def test_the_ical_feed_lists_moves_until_revoked(client, org, login):
    await _day(client, org, login)
    assistant = await login("assistant")
    user_id = org.users["assistant"].id
    await _moves(client, org, tomorrow(), assistant)
    resp = await client.post(f"/api/assistants/{user_id}/feed", headers=assistant)
    assert resp.status == 201, await resp.text()
    path = "/" + (await resp.json())["url"].split("/", 3)[3]
    feed = await client.get(path)
    assert feed.status == 200
    assert feed.content_type == "text/calendar"
    text = await feed.text()
    assert text.count("BEGIN:VEVENT") == 2
    assert "SUMMARY:Robot 'Robbie' · from S12 to Lab 3 · by 10:00 · for Sam K." in text
    assert (await client.delete(f"/api/assistants/{user_id}/feed", headers=assistant)).status == 204
    assert (await client.get(path)).status == 410
    assert (await client.get("/feeds/assistants/not-a-token.ics")).status == 404
    other = await login("admin@other.example")
    resp = await client.post(f"/api/assistants/{user_id}/feed", headers=other)
    assert resp.status == 404


async def test_telemetry_in_another_room_flags_the_done_move(client, org, login):
    robot_id, day, admin = await _day(client, org, login)
    moves = await _moves(client, org, day, admin)
    resp = await client.post(f"/api/moves/{moves[0]['id']}/done", json={}, headers=admin)
    assert resp.status == 200
    later = client.app[CLOCK].now() + timedelta(minutes=5)
    async with client.app[DATABASE].transaction() as session:
        assert await check_reported_room(session, robot_id, "Lab 3", later) is None
        flagged = await check_reported_room(session, robot_id, "S12", later)
        assert flagged is not None
        assert await check_reported_room(session, robot_id, "S12", later) is None  # once
    after = await _moves(client, org, day, admin)
    assert after[0]["contradiction"] == "confirmed in Lab 3, but the device reports S12"


async def test_a_device_in_maintenance_leaves_the_rota(client, org, login):
    robot_id, day, admin = await _day(client, org, login)
    assert len(await _moves(client, org, day, admin)) == 2
    async with client.app[DATABASE].transaction() as session:
        device = await session.get(Device, robot_id)
        assert device is not None
        device.lifecycle = "maintenance"
        await session.flush()
        outcomes = await replan_device(session, robot_id, client.app[CLOCK].now())
    await announce_outcomes(client.app, outcomes)
    assert [o.removed for o in outcomes] == [2]
    assert await _moves(client, org, day, admin) == []
    async with client.app[DATABASE].sessions() as session:
        assert await session.get(MoveRow, "missing") is None


async def test_staff_find_each_schools_rota_from_the_navigation(client, org):
    await sign_in(client, org.email("hospital_staff"))
    page = await client.get("/rota")
    html = await page.text()
    assert page.status == 200
    assert 'href="/rota" aria-current="page"' in html
    assert f'href="/schools/{org.school_id}/rota">Test Academy' in html
    client.session.cookie_jar.clear()
    await sign_in(client, org.email("assistant"))
    assert (await client.get("/rota", allow_redirects=False)).status == 403


async def test_maintenance_set_through_the_api_takes_the_robot_out_of_the_rota(client, org, login):
    robot_id, day, admin = await _day(client, org, login)
    assert len(await _moves(client, org, day, admin)) == 2
    resp = await client.patch(
        f"/api/devices/{robot_id}", json={"lifecycle": "maintenance"}, headers=admin
    )
    assert resp.status == 200
    for _ in range(100):  # the rota listener re-plans right after the change
        if await _moves(client, org, day, admin) == []:
            break
        await asyncio.sleep(0.05)
    assert await _moves(client, org, day, admin) == []


async def test_a_reported_room_that_contradicts_done_is_flagged_by_the_listener(client, org, login):
    from device_registry.hub import CHANGES_TOPIC
    from telepresence.platform.http.context import EVENTS

    robot_id, day, admin = await _day(client, org, login)
    moves = await _moves(client, org, day, admin)
    assert (
        await client.post(f"/api/moves/{moves[0]['id']}/done", json={}, headers=admin)
    ).status == 200
    async with client.app[EVENTS].subscribe(f"rota:{org.school_id}") as rota:
        client.app[EVENTS].publish(CHANGES_TOPIC, {"device_id": robot_id, "reported_room": "S12"})
        event = await asyncio.wait_for(rota.get(), 3)
    assert event == {"kind": "contradiction", "move": moves[0]["id"]}
