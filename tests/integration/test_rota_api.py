"""The rota's API on SQLite and PostgreSQL: duty, walking, the day's rota, confirmations."""

from __future__ import annotations

import asyncio

from integration.rota_helpers import (
    LAB_THEN_S12,
    add_assistant,
    add_lesson,
    at,
    on_duty_all_week,
    robbie_tomorrow,
)

from device_registry.models import Device
from telepresence.platform.http.context import DATABASE


async def _robot_day(client, org):
    """Robbie (base S12) booked tomorrow 10:00 in Lab 3 and 11:00 in S12."""
    return await robbie_tomorrow(client, org, *LAB_THEN_S12)


async def _on_duty(client, login, user_id):
    await on_duty_all_week(client, await login("admin"), user_id)


async def test_duty_patterns_round_trip_and_bad_input_changes_nothing(client, org, login):
    admin = await login("admin")
    user_id = org.users["assistant"].id
    week = [{"weekday": 0, "start": "08:00", "end": "12:00", "breaks": []}]
    resp = await client.put(
        f"/api/assistants/{user_id}/duty",
        json={"patterns": week, "max_moves_per_day": 6},
        headers=admin,
    )
    assert resp.status == 200, await resp.text()
    overlap = [*week, {"weekday": 0, "start": "11:00", "end": "13:00"}]
    resp = await client.put(
        f"/api/assistants/{user_id}/duty", json={"patterns": overlap}, headers=admin
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "patterns.1.start"
    backwards = [{"weekday": 2, "start": "14:00", "end": "09:00"}]
    resp = await client.put(
        f"/api/assistants/{user_id}/duty", json={"patterns": backwards}, headers=admin
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "patterns.0.end"
    bad_break = [{**week[0], "breaks": [{"start": "07:00", "end": "07:30"}]}]
    resp = await client.put(
        f"/api/assistants/{user_id}/duty", json={"patterns": bad_break}, headers=admin
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "patterns.0.breaks.0.start"
    got = await (await client.get(f"/api/assistants/{user_id}/duty", headers=admin)).json()
    assert got["patterns"] == [{**week[0], "start": "08:00:00", "end": "12:00:00"}]
    assert got["max_moves_per_day"] == 6
    assistant = await login("assistant")
    assert (await client.get(f"/api/assistants/{user_id}/duty", headers=assistant)).status == 200
    resp = await client.put(
        f"/api/assistants/{user_id}/duty", json={"patterns": week}, headers=assistant
    )
    assert resp.status == 403
    other = await login("admin@other.example")
    assert (await client.get(f"/api/assistants/{user_id}/duty", headers=other)).status == 404


async def test_walking_overrides_refuse_unknown_rooms(client, org, login):
    admin = await login("admin")
    s12, lab3 = org.room_ids
    url = f"/api/schools/{org.school_id}/walking"
    body = {
        "same_floor_minutes": 1,
        "overrides": [{"room_a_id": s12, "room_b_id": "nope", "minutes": 3}],
    }
    resp = await client.put(url, json=body, headers=admin)
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "overrides.0.room_b_id"
    body["overrides"] = [{"room_a_id": s12, "room_b_id": lab3, "minutes": 3}]
    resp = await client.put(url, json=body, headers=admin)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["overrides"][0]["minutes"] == 3


async def test_the_day_rota_assigns_moves_and_names_pupils_by_first_name_and_initial(
    client, org, login
):
    await _on_duty(client, login, org.users["assistant"].id)
    _, day = await _robot_day(client, org)
    assistant = await login("assistant")
    resp = await client.get(
        f"/api/schools/{org.school_id}/rota?date={day.isoformat()}", headers=assistant
    )
    assert resp.status == 200, await resp.text()
    text = await resp.text()
    assert "Kowalski" not in text
    rota = await resp.json()
    assert [m["summary"] for m in rota["moves"]] == [
        "Robot 'Robbie' · from S12 to Lab 3 · by 10:00 · for Sam K.",
        "Robot 'Robbie' · from Lab 3 to S12 · by 11:00 · for Sam K.",
    ]
    assert {m["assistant_id"] for m in rota["moves"]} == {org.users["assistant"].id}
    assert rota["unassigned"] == 0
    other = await login("admin@other.example")
    resp = await client.get(f"/api/schools/{org.school_id}/rota", headers=other)
    assert resp.status == 404
    pupil = await client.post("/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": "4826"})
    if pupil.status == 200:
        token = (await pupil.json())["token"]
        resp = await client.get(
            f"/api/schools/{org.school_id}/rota", headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status == 403


async def test_moves_nobody_can_do_are_flagged_with_the_reason(client, org, login):
    _, day = await _robot_day(client, org)  # nobody has a duty pattern
    coordinator = await login("coordinator")
    rota = await (
        await client.get(
            f"/api/schools/{org.school_id}/rota?date={day.isoformat()}", headers=coordinator
        )
    ).json()
    assert rota["unassigned"] == 2
    assert {m["status"] for m in rota["moves"]} == {"pending"}
    assert {m["status_reason"] for m in rota["moves"]} == {"no assistant on duty"}


async def test_confirm_done_sets_the_room_and_is_idempotent(client, org, login):
    await _on_duty(client, login, org.users["assistant"].id)
    robot_id, day = await _robot_day(client, org)
    assistant = await login("assistant")
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    first = (await (await client.get(url, headers=assistant)).json())["moves"][0]
    done = f"/api/moves/{first['id']}/done"
    resp = await client.post(done, json={"version": first["version"]}, headers=assistant)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["status"], body["confirmed_by"]) == ("done", "Test assistant")
    again = await client.post(done, json={"version": first["version"]}, headers=assistant)
    assert again.status == 200
    assert (await again.json())["version"] == body["version"]
    async with client.app[DATABASE].sessions() as session:
        device = await session.get(Device, robot_id)
        assert device is not None
        assert device.last_known_room_id == org.room_ids[1]
    staff = await (await client.get(url, headers=await login("hospital_staff"))).json()
    assert staff["moves"][0]["display_status"] == "done"


async def test_someone_elses_move_or_a_reassigned_one_cannot_be_confirmed(client, org, login):
    database = client.app[DATABASE]
    jo = org.users["assistant"].id
    kim = await add_assistant(database, org, "kim@test.example")
    await _on_duty(client, login, jo)
    await _on_duty(client, login, kim)
    _, day = await _robot_day(client, org)
    jo_headers = await login("assistant")
    kim_headers = await login("kim@test.example")
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    moves = (await (await client.get(url, headers=jo_headers)).json())["moves"]
    mine = next(m for m in moves if m["assistant_id"] == jo)
    other = kim_headers if mine["assistant_id"] == jo else jo_headers
    resp = await client.post(f"/api/moves/{mine['id']}/done", json={}, headers=other)
    assert resp.status == 409
    assert "not yours" in (await resp.json())["detail"]
    admin = await login("admin")
    resp = await client.put(
        f"/api/moves/{mine['id']}/assignment", json={"assistant_id": kim}, headers=admin
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["pinned"] is True
    resp = await client.post(
        f"/api/moves/{mine['id']}/done", json={"version": mine["version"]}, headers=jo_headers
    )
    assert resp.status == 409
    assert "reassigned" in (await resp.json())["detail"]
    after = (await (await client.get(url, headers=admin)).json())["moves"]
    moved = next(m for m in after if m["id"] == mine["id"])
    assert (moved["assistant_id"], moved["status"]) == (kim, "assigned")
    resp = await client.put(
        f"/api/moves/{mine['id']}/assignment", json={"assistant_id": "nobody"}, headers=admin
    )
    assert resp.status == 422


async def test_cant_do_with_nobody_else_flags_the_move_with_the_reason(client, org, login):
    await _on_duty(client, login, org.users["assistant"].id)
    _, day = await _robot_day(client, org)
    assistant = await login("assistant")
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    first = (await (await client.get(url, headers=assistant)).json())["moves"][0]
    resp = await client.post(
        f"/api/moves/{first['id']}/cant", json={"reason": "Lab 3 is locked"}, headers=assistant
    )
    assert resp.status == 200, await resp.text()
    moved = await resp.json()
    assert (moved["status"], moved["assistant_id"]) == ("pending", None)
    assert moved["status_reason"] == (
        "Test assistant can't: Lab 3 is locked; nobody else on duty can do it in time"
    )
    again = await client.post(
        f"/api/moves/{first['id']}/cant", json={"reason": "Lab 3 is locked"}, headers=assistant
    )
    assert again.status == 200  # said twice: nothing more happens
    assert (await again.json())["version"] == moved["version"]
    resp = await client.post(f"/api/moves/{first['id']}/done", json={}, headers=assistant)
    assert resp.status == 409


async def test_an_absent_assistants_moves_go_to_someone_on_duty(client, org, login):
    database = client.app[DATABASE]
    jo = org.users["assistant"].id
    kim = await add_assistant(database, org, "kim@test.example")
    await _on_duty(client, login, jo)
    await _on_duty(client, login, kim)
    _, day = await _robot_day(client, org)
    admin = await login("admin")
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    assert (await client.get(url, headers=admin)).status == 200
    resp = await client.post(
        f"/api/assistants/{jo}/absences",
        json={"start_date": day.isoformat(), "end_date": day.isoformat(), "reason": "off sick"},
        headers=admin,
    )
    assert resp.status == 201, await resp.text()
    moves = (await (await client.get(url, headers=admin)).json())["moves"]
    assert {m["assistant_id"] for m in moves} == {kim}
    resp = await client.post(
        f"/api/assistants/{jo}/absences",
        json={"start_date": day.isoformat(), "end_date": "2000-01-01"},
        headers=admin,
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "end_date"


async def test_a_booking_event_re_plans_the_day(client, org, login):
    from scheduler.bookings.events import HubBookingEvents
    from scheduler.bookings.ports import BookingEvent, BookingEventKind
    from telepresence.platform.http.context import EVENTS

    await _on_duty(client, login, org.users["assistant"].id)
    robot_id, day = await _robot_day(client, org)
    admin = await login("admin")
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    assert len((await (await client.get(url, headers=admin)).json())["moves"]) == 2
    booking_id = await add_lesson(
        client.app[DATABASE], org, robot_id, day, "13:00", "13:50", "Lab 3"
    )
    event = BookingEvent(
        BookingEventKind.BOOKED,
        booking_id,
        org.pupil.id,
        org.school_id,
        "L",
        day,
        at(day, "13:00"),
        at(day, "13:50"),
        "Lab 3",
        robot_id,
        None,
        at(day, "12:00"),
    )
    HubBookingEvents(client.app[EVENTS]).publish([event])
    for _ in range(100):
        moves = (await (await client.get(url, headers=admin)).json())["moves"]
        if len(moves) == 4:
            break
        await asyncio.sleep(0.05)
    assert [m["to_room"] for m in moves] == ["Lab 3", "S12", "Lab 3", "S12"]
