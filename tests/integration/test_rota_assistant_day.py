"""The assistant's day on the phone page: clock times, the robot's state, tomorrow, quick
reasons, "Done" far ahead asking first, "Done" taken back, and changes folded (issue 16)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from html import unescape as html_unescape

from integration.rota_helpers import add_assistant, on_duty_all_week
from integration.test_pages import csrf_of, sign_in
from integration.test_rota_pages import _day, _moves
from sqlalchemy import select

from device_registry.models import Device
from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import AuditEntry


def _at(clock, instant: datetime) -> None:
    clock.offset = instant - datetime.now(UTC)


async def _morning(client, org, login, clock, before_due: timedelta):
    """Robbie's day tomorrow; the clock ``before_due`` ahead of its first move's due time."""
    robot_id, day, admin = await _day(client, org, login)
    moves = await _moves(client, org, day, admin)
    _at(clock, datetime.fromisoformat(moves[0]["due"]) - before_due)
    await sign_in(client, org.email("assistant"))
    return robot_id, day, moves


async def test_moves_say_clock_times_the_robots_state_and_tomorrow_is_a_tap_away(
    client, org, login, clock
):
    robot_id, day, _ = await _day(client, org, login)
    async with client.app[DATABASE].transaction() as session:
        robot = await session.get(Device, robot_id)
        assert robot is not None
        robot.battery_pct, robot.online = 64, True
    await sign_in(client, org.email("assistant"))
    html = await (await client.get("/assistant")).text()
    assert 'href="/assistant?day=tomorrow"' in html
    assert "No moves for you today." in html

    ahead = await (await client.get("/assistant?day=tomorrow")).text()
    assert "Robot &#39;Robbie&#39; · from S12 to Lab 3 · by 10:00 · for Sam K." in ahead
    assert "09:00 to 10:00" in ahead  # the move's window, in the school's time
    assert "min left" not in ahead
    assert "Charger in S12" in ahead
    assert "Battery 64 %" not in ahead  # today's reading says nothing about tomorrow
    assert ">Done</button>" not in ahead  # tomorrow is to look at; "Can't do it" still works
    assert "Can&#39;t do it" in ahead or "Can't do it" in ahead

    moves = await _moves(client, org, day, await login("admin"))
    _at(clock, datetime.fromisoformat(moves[0]["due"]) - timedelta(hours=8, minutes=17))
    client.session.cookie_jar.clear()
    await sign_in(client, org.email("assistant"))
    far = await (await client.get("/assistant")).text()
    assert "by 10:00" in far
    assert "min left" not in far
    assert "497" not in far
    _at(clock, datetime.fromisoformat(moves[0]["due"]) - timedelta(minutes=25, seconds=30))
    near = await (await client.get("/assistant")).text()
    assert "in 25 min" in near
    assert "Battery 64 %" in near
    assert "Online" in near
    assert "Charger in S12" in near


async def test_done_far_ahead_of_the_window_asks_first(client, org, login, clock):
    _, day, moves = await _morning(client, org, login, clock, timedelta(hours=2))
    html = await (await client.get("/assistant")).text()
    url = f"/rota/moves/{moves[0]['id']}/done"
    resp = await client.post(url, data={"csrf_token": csrf_of(html)}, allow_redirects=False)
    assert resp.status == 200
    ask = await resp.text()
    assert "Done already?" in ask
    assert "09:00 to 10:00" in ask
    assert 'name="sure" value="yes"' in ask
    assert (await _moves(client, org, day, await login("admin")))[0]["status"] == "assigned"
    resp = await client.post(
        url, data={"csrf_token": csrf_of(ask), "sure": "yes"}, allow_redirects=False
    )
    assert resp.status == 303
    assert (await _moves(client, org, day, await login("admin")))[0]["status"] == "done"


async def test_done_inside_the_window_needs_no_question(client, org, login, clock):
    _, _day_of, moves = await _morning(client, org, login, clock, timedelta(minutes=20))
    html = await (await client.get("/assistant")).text()
    url = f"/rota/moves/{moves[0]['id']}/done"
    resp = await client.post(url, data={"csrf_token": csrf_of(html)}, allow_redirects=False)
    assert resp.status == 303


async def test_done_can_be_taken_back_for_a_few_minutes(client, org, login, clock):
    robot_id, day, moves = await _morning(client, org, login, clock, timedelta(minutes=20))
    first = moves[0]
    html = await (await client.get("/assistant")).text()
    resp = await client.post(
        f"/rota/moves/{first['id']}/done",
        data={"csrf_token": csrf_of(html)},
        allow_redirects=False,
    )
    assert resp.status == 303
    async with client.app[DATABASE].sessions() as session:
        robot = await session.get(Device, robot_id)
        assert robot is not None
        assert robot.last_known_room_id == org.room_ids[1]  # Lab 3
    html = await (await client.get("/assistant")).text()
    assert "Undo “Done”" in html
    resp = await client.post(
        f"/rota/moves/{first['id']}/undo",
        data={"csrf_token": csrf_of(html)},
        allow_redirects=False,
    )
    assert resp.status == 303
    admin = await login("admin")
    after = await _moves(client, org, day, admin)
    assert after[0]["id"] == first["id"]
    assert after[0]["status"] == "assigned"
    assert after[0]["assistant_id"] == org.users["assistant"].id
    assert after[0]["confirmed_at"] is None
    assert len(after) == 2  # the re-plan kept the day as it was
    html = await (await client.get("/assistant")).text()
    assert "Undo “Done”" not in html
    assert ">Done</button>" in html
    async with client.app[DATABASE].sessions() as session:
        robot = await session.get(Device, robot_id)
        assert robot is not None
        assert robot.last_known_room_id == org.room_ids[0]  # back in S12
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert "move.undone" in actions

    # Through the API, and only within the few minutes.
    assistant = await login("assistant")
    done = f"/api/moves/{first['id']}/done"
    assert (await client.post(done, json={}, headers=assistant)).status == 200
    undo = f"/api/moves/{first['id']}/undo"
    clock.offset += timedelta(minutes=6)
    resp = await client.post(undo, json={}, headers=assistant)
    assert resp.status == 409
    assert "5 minutes" in (await resp.json())["detail"]
    assert (await _moves(client, org, day, admin))[0]["status"] == "done"
    # The page says so on the assistant's own page rather than a bare error.
    html = await (await client.get("/assistant")).text()
    resp = await client.post(f"/rota/moves/{first['id']}/undo", data={"csrf_token": csrf_of(html)})
    assert resp.status == 409
    assert "can be taken back for 5 minutes only" in html_unescape(await resp.text())
    assert (await _moves(client, org, day, admin))[0]["status"] == "done"


async def test_only_the_one_who_said_done_or_staff_take_it_back(client, org, login, clock):
    _, _day_of, moves = await _morning(client, org, login, clock, timedelta(minutes=20))
    admin = await login("admin")
    first = moves[0]["id"]
    assert (await client.post(f"/api/moves/{first}/undo", json={}, headers=admin)).status == 409
    assert (await client.post(f"/api/moves/{first}/done", json={}, headers=admin)).status == 200
    assistant = await login("assistant")
    resp = await client.post(f"/api/moves/{first}/undo", json={}, headers=assistant)
    assert resp.status == 409
    resp = await client.post(f"/api/moves/{first}/undo", json={}, headers=admin)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "assigned"


async def test_cant_do_it_takes_a_quick_reason(client, org, login, clock):
    _, day, moves = await _morning(client, org, login, clock, timedelta(minutes=20))
    html = await (await client.get("/assistant")).text()
    for value in ("teaching", "off_site", "not_found", "other"):
        assert f'name="choice" value="{value}"' in html
    url = f"/rota/moves/{moves[1]['id']}/cant"
    resp = await client.post(url, data={"csrf_token": csrf_of(html), "choice": "other"})
    assert resp.status == 422  # "Other" needs words; nothing changed, and the page says so
    refused = await resp.text()
    assert "There is a problem" in refused
    assert "say in a few words why the move cannot be done" in refused
    assert "Can&#39;t do it" in refused or "Can't do it" in refused
    assert (await _moves(client, org, day, await login("admin")))[1]["status"] == "assigned"
    resp = await client.post(
        url,
        data={"csrf_token": csrf_of(html), "choice": "teaching", "reason": "Y7 cover"},
        allow_redirects=False,
    )
    assert resp.status == 303
    after = (await _moves(client, org, day, await login("admin")))[1]
    assert after["declines"][0].endswith("Teaching a class then: Y7 cover")


async def test_what_changed_is_folded_named_and_never_contradicts_itself(client, org, login, clock):
    _, day, moves = await _morning(client, org, login, clock, timedelta(hours=1))
    await (await client.get("/assistant")).text()  # the last look
    admin = await login("admin")
    other = await add_assistant(client.app[DATABASE], org, "bea@test.example")
    await on_duty_all_week(client, admin, other)
    mine = org.users["assistant"].id
    for move, whom in ((moves[0], other), (moves[0], mine), (moves[1], other)):
        current = next(m for m in await _moves(client, org, day, admin) if m["id"] == move["id"])
        resp = await client.put(
            f"/api/moves/{move['id']}/assignment",
            json={"assistant_id": whom, "version": current["version"]},
            headers=admin,
        )
        assert resp.status == 200, await resp.text()
    html = await (await client.get("/assistant")).text()
    assert '<details class="card changes">' in html  # folded: the next move stays in view
    assert 'What changed since your last look <span class="count">(1)</span>' in html
    assert "Robbie: given to someone else: Lab 3 → S12 by 11:00" in html
    assert "S12 → Lab 3 by 10:00" not in html.split("<ol")[0]  # given away and back: untold


async def test_a_move_that_goes_away_is_told_with_its_robots_name(client, org, login, clock):
    robot_id, _day_of, _moves_of = await _morning(client, org, login, clock, timedelta(hours=1))
    async with client.app[DATABASE].transaction() as session:
        robot = await session.get(Device, robot_id)
        assert robot is not None
        robot.name = "Rob {x}"  # a name is anyone's text, braces and all
    await (await client.get("/assistant")).text()  # the last look
    admin = await login("admin")
    resp = await client.patch(
        f"/api/devices/{robot_id}", json={"lifecycle": "maintenance"}, headers=admin
    )
    assert resp.status == 200
    for _ in range(100):  # the rota listener re-plans right after the change
        html = html_unescape(await (await client.get("/assistant?live=1")).text())
        if "No moves for you today." in html:
            break
        await asyncio.sleep(0.05)
    html = html_unescape(await (await client.get("/assistant")).text())
    assert "no longer needed: Rob {x}, S12 → Lab 3 by 10:00" in html
    assert "no longer needed: Rob {x}, Lab 3 → S12 by 11:00" in html
