"""An assistant's usual base room: set by API or the staff page, used for their first walk."""

from __future__ import annotations

from datetime import UTC, datetime

from factories import add_device
from integration.rota_helpers import add_assistant, add_lesson, on_duty_all_week, tomorrow
from integration.test_pages import csrf_of, sign_in

from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import Provider, Room


async def _sports_hall(client, org) -> str:
    """A room in another building (8 minutes from S12 by the default rule)."""
    async with client.app[DATABASE].transaction() as db:
        room = Room(school_id=org.school_id, name="Sports hall", building="Sports")
        db.add(room)
        await db.flush()
        return room.id


async def _two_on_duty(client, org, login):
    admin = await login("admin")
    jo = org.users["assistant"].id
    kim = await add_assistant(client.app[DATABASE], org, "kim@test.example")
    await on_duty_all_week(client, admin, jo, kim)
    return admin, jo, kim


async def _first_move_of_the_day(client, org, admin) -> dict[str, object]:
    robot = await add_device(client.app[DATABASE], org, charging_base_room_id=org.room_ids[0])
    day = tomorrow()
    await add_lesson(client.app[DATABASE], org, robot.id, day, "10:00", "10:50", "Lab 3")
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    move = (await (await client.get(url, headers=admin)).json())["moves"][0]
    assert move["summary"].startswith("Robot 'Robbie' · from S12 to Lab 3")
    return move


async def test_the_base_room_round_trips_and_bad_rooms_change_nothing(client, org, login):
    admin = await login("admin")
    jo = org.users["assistant"].id
    s12 = org.room_ids[0]
    url = f"/api/assistants/{jo}/base-room"
    resp = await client.put(url, json={"room_id": s12}, headers=admin)
    assert resp.status == 200, await resp.text()
    assert ((await resp.json())["base_room_id"], (await resp.json())["base_room"]) == (s12, "S12")
    for bad in ("nope", await _other_schools_room(client, org)):
        resp = await client.put(url, json={"room_id": bad}, headers=admin)
        assert resp.status == 422
        assert resp.content_type == "application/problem+json"
        assert (await resp.json())["errors"][0]["field"] == "room_id"
    got = await (await client.get(f"/api/assistants/{jo}/duty", headers=admin)).json()
    assert got["base_room_id"] == s12
    assistant = await login("assistant")
    resp = await client.put(url, json={"room_id": None}, headers=assistant)
    assert resp.status == 403
    resp = await client.put(url, json={"room_id": None}, headers=admin)
    assert (await resp.json())["base_room_id"] is None


async def _other_schools_room(client, org) -> str:
    from telepresence.platform.models import School

    async with client.app[DATABASE].transaction() as db:
        school = School(
            provider_id=org.provider_id,
            name="Elsewhere High",
            time_zone="UTC",
            created_at=datetime.now(UTC),
        )
        db.add(school)
        await db.flush()
        room = Room(school_id=school.id, name="S12", building="Main")
        db.add(room)
        await db.flush()
        return room.id


async def test_the_assistant_starting_next_to_the_robot_gets_its_first_move(client, org, login):
    admin, jo, kim = await _two_on_duty(client, org, login)
    hall = await _sports_hall(client, org)
    for user_id, room in ((jo, hall), (kim, org.room_ids[0])):
        resp = await client.put(
            f"/api/assistants/{user_id}/base-room", json={"room_id": room}, headers=admin
        )
        assert resp.status == 200, await resp.text()
    move = await _first_move_of_the_day(client, org, admin)
    assert move["assistant_id"] == kim


async def test_staff_set_base_rooms_on_the_rota_page(client, org, login):
    admin, jo, kim = await _two_on_duty(client, org, login)
    hall = await _sports_hall(client, org)
    await sign_in(client, org.email("admin"))
    page = await client.get(f"/schools/{org.school_id}/rota")
    html = await page.text()
    assert page.status == 200
    assert "Where assistants start" in html
    assert f'id="base-{kim}"' in html
    for user_id, room in ((kim, hall), (jo, org.room_ids[0])):
        resp = await client.post(
            f"/schools/{org.school_id}/rota/base-room",
            data={"csrf_token": csrf_of(html), "user_id": user_id, "room_id": room},
            allow_redirects=False,
        )
        assert resp.status == 303, await resp.text()
    html = await (await client.get(f"/schools/{org.school_id}/rota")).text()
    assert f'<option value="{hall}" selected>Sports hall</option>' in html
    move = await _first_move_of_the_day(client, org, admin)
    assert move["assistant_id"] == jo


async def test_staff_set_walking_times_on_the_rota_page_and_the_advice_follows(client, org, login):
    """'Set a shorter walking time' is something the page lets staff do, not only the API."""
    await _two_on_duty(client, org, login)
    hall = await _sports_hall(client, org)
    s12 = org.room_ids[0]
    lab3 = org.room_ids[1]
    robot = await add_device(client.app[DATABASE], org, charging_base_room_id=lab3)
    day = tomorrow()
    await add_lesson(client.app[DATABASE], org, robot.id, day, "10:00", "10:50", "S12")
    await add_lesson(client.app[DATABASE], org, robot.id, day, "10:55", "11:40", "Sports hall")
    await sign_in(client, org.email("admin"))
    url = f"/schools/{org.school_id}/rota?date={day.isoformat()}"
    html = await (await client.get(url)).text()
    assert "Too short to walk" in html
    assert 'href="#walking"' in html
    assert 'id="walking"' in html
    assert 'name="other_building_minutes"' in html
    assert 'value="8"' in html
    form = {"csrf_token": csrf_of(html), "back": url}
    general = {
        "same_floor_minutes": "1",
        "same_building_minutes": "3",
        "other_building_minutes": "6",
    }
    bad = form | general | {"room_a_id": s12, "room_b_id": hall, "pair_minutes": "90"}
    resp = await client.post(f"/schools/{org.school_id}/rota/walking", data=bad)
    assert resp.status == 422
    assert "text/html" in resp.content_type
    assert "Too short to walk" in await (await client.get(url)).text()
    pair = {"room_a_id": hall, "room_b_id": s12, "pair_minutes": "2.5"}
    resp = await client.post(
        f"/schools/{org.school_id}/rota/walking",
        data=form | general | pair,
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    assert resp.headers["Location"] == url + "#walking"
    html = await (await client.get(url)).text()
    assert "Too short to walk" not in html
    assert "S12 ↔ Sports hall: 2.5 min" in html
    assert 'name="same_floor_minutes" type="number"' in html
    assert 'step="0.5" required value="6"' in html
    assert 'value="8"' not in html
    # A general change keeps the pair; an empty time for the pair removes it.
    await client.post(f"/schools/{org.school_id}/rota/walking", data=form | general)
    assert "S12 ↔ Sports hall: 2.5 min" in await (await client.get(url)).text()
    await client.post(
        f"/schools/{org.school_id}/rota/walking", data=form | general | pair | {"pair_minutes": ""}
    )
    html = await (await client.get(url)).text()
    assert "S12 ↔ Sports hall" not in html
    assert "Too short to walk" in html


async def test_a_coordinator_reads_the_rotas_settings_unless_the_provider_allows(
    client, org, login
):
    """Read-only coordinators see base rooms and walking times but get no form that fails."""
    _admin, jo, _kim = await _two_on_duty(client, org, login)
    coordinator = await login("coordinator")
    await sign_in(client, org.email("coordinator"))
    url = f"/schools/{org.school_id}/rota"
    html = await (await client.get(url)).text()
    assert "another building 8 min" in html
    assert "/rota/walking" not in html
    assert "/rota/base-room" not in html
    data = {"csrf_token": csrf_of(html), "user_id": jo, "room_id": org.room_ids[0]}
    refused = await client.post(f"{url}/base-room", data=data, allow_redirects=False)
    assert refused.status == 403
    walking = {"csrf_token": csrf_of(html), "other_building_minutes": "3"}
    refused = await client.post(f"{url}/walking", data=walking, allow_redirects=False)
    assert refused.status == 403
    api = await client.put(f"/api/schools/{org.school_id}/walking", json={}, headers=coordinator)
    assert api.status == 403
    api = await client.put(
        f"/api/assistants/{jo}/base-room", json={"room_id": None}, headers=coordinator
    )
    assert api.status == 403
    html = await (await client.get(url)).text()
    assert "another building 8 min" in html  # nothing changed
    async with client.app[DATABASE].transaction() as db:
        provider = await db.get(Provider, org.provider_id)
        provider.coordinators_may_change = True
    html = await (await client.get(url)).text()
    assert "/rota/walking" in html
    allowed = await client.post(
        f"{url}/walking", data={"csrf_token": csrf_of(html)}, allow_redirects=False
    )
    assert allowed.status == 303
