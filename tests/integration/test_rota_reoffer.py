""" "Can't do it": the move goes at once to another on-duty assistant, never back; with
nobody else it is escalated to the school and the key worker with the reason."""

from __future__ import annotations

import html
from typing import Any

from integration.rota_helpers import (
    LAB_THEN_S12,
    add_assistant,
    on_duty_all_week,
    robbie_tomorrow,
)
from integration.test_pages import csrf_of, sign_in

from telepresence.platform.http.context import DATABASE

KIM = "kim@test.example"


async def _two_on_duty_and_a_day(client, org, login):
    admin = await login("admin")
    kim = await add_assistant(client.app[DATABASE], org, KIM)
    await on_duty_all_week(client, admin, org.users["assistant"].id, kim)
    _robot_id, day = await robbie_tomorrow(client, org, *LAB_THEN_S12)
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    first = (await (await client.get(url, headers=admin)).json())["moves"][0]
    emails = {org.users["assistant"].id: org.email("assistant"), kim: KIM}
    return admin, url, first, emails


async def _kinds(client, login, who: str) -> list[dict[str, Any]]:
    return await (await client.get("/api/notifications", headers=await login(who))).json()


async def test_a_declined_move_goes_to_the_other_assistant_and_never_back(client, org, login):
    admin, url, first, emails = await _two_on_duty_and_a_day(client, org, login)
    holder = first["assistant_id"]
    [other] = set(emails) - {holder}
    before = len(
        [n for n in await _kinds(client, login, emails[other]) if n["kind"] == "rota_changed"]
    )
    declining = await login(emails[holder])
    resp = await client.post(
        f"/api/moves/{first['id']}/cant", json={"reason": "lift broken"}, headers=declining
    )
    assert resp.status == 200, await resp.text()
    moved = await resp.json()
    assert (moved["assistant_id"], moved["status"]) == (other, "assigned")
    told = [n for n in await _kinds(client, login, emails[other]) if n["kind"] == "rota_changed"]
    assert len(told) == before + 1
    assert [
        n for n in await _kinds(client, login, "hospital_staff") if n["kind"] == "move_failed"
    ] == []
    # Staff still see who could not do it and why, after someone else has taken it.
    [declined] = moved["declines"]
    assert "can't (" in declined
    assert declined.endswith("): lift broken")
    await sign_in(client, org.email("admin"))
    page = await (await client.get(f"/schools/{org.school_id}/rota?date={url[-10:]}")).text()
    assert declined in html.unescape(page)
    # Saying it again changes nothing; re-planning never gives it back.
    again = await client.post(
        f"/api/moves/{first['id']}/cant", json={"reason": "lift broken"}, headers=declining
    )
    assert again.status == 200
    assert (await again.json())["assistant_id"] == other
    resp = await client.post(f"{url.replace('/rota?', '/rota/replan?')}", headers=admin)
    assert resp.status == 200, await resp.text()
    replanned = {m["id"]: m for m in (await resp.json())["moves"]}
    assert replanned[first["id"]]["assistant_id"] == other
    # The one who declined cannot confirm it now.
    resp = await client.post(f"/api/moves/{first['id']}/done", json={}, headers=declining)
    assert resp.status == 409


async def test_staff_can_give_a_declined_move_back_by_hand_and_it_can_be_declined_again(
    client, org, login
):
    admin, _url, first, emails = await _two_on_duty_and_a_day(client, org, login)
    holder = first["assistant_id"]
    [other] = set(emails) - {holder}
    declining = await login(emails[holder])
    cant = f"/api/moves/{first['id']}/cant"
    resp = await client.post(cant, json={"reason": "lift broken"}, headers=declining)
    assert (await resp.json())["assistant_id"] == other
    # The lift is mended: the coordinator sorts it out with them and pins it back.
    resp = await client.put(
        f"/api/moves/{first['id']}/assignment", json={"assistant_id": holder}, headers=admin
    )
    assert resp.status == 200, await resp.text()
    back = await resp.json()
    assert (back["assistant_id"], back["pinned"], back["status"]) == (holder, True, "assigned")
    assert len(back["declines"]) == 1  # what they said before is still on record
    # And if it breaks again, saying so again counts: the move goes to the other assistant.
    resp = await client.post(cant, json={"reason": "lift broken again"}, headers=declining)
    assert resp.status == 200, await resp.text()
    again = await resp.json()
    assert (again["assistant_id"], again["pinned"]) == (other, False)
    assert [d.rsplit(": ", 1)[1] for d in again["declines"]] == ["lift broken again"]


async def test_a_move_pinned_to_someone_off_sick_goes_to_whoever_is_in(client, org, login):
    admin, url, first, emails = await _two_on_duty_and_a_day(client, org, login)
    [other] = set(emails) - {first["assistant_id"]}
    resp = await client.put(
        f"/api/moves/{first['id']}/assignment", json={"assistant_id": other}, headers=admin
    )
    assert (await resp.json())["pinned"] is True
    day = url[-10:]
    resp = await client.post(
        f"/api/assistants/{other}/absences",
        json={"start_date": day, "end_date": day, "reason": "off sick"},
        headers=admin,
    )
    assert resp.status == 201, await resp.text()
    moves = {m["id"]: m for m in (await (await client.get(url, headers=admin)).json())["moves"]}
    moved = moves[first["id"]]
    # The pin was for someone who is not in: it goes, and so does the move, to who is.
    assert (moved["assistant_id"], moved["pinned"], moved["status"]) == (
        first["assistant_id"],
        False,
        "assigned",
    )
    failed = [
        n for n in await _kinds(client, login, "hospital_staff") if n["kind"] == "move_failed"
    ]
    assert failed == []
    # And it stays an ordinary move at the next re-plan.
    resp = await client.post(url.replace("/rota?", "/rota/replan?"), headers=admin)
    again = {m["id"]: m for m in (await resp.json())["moves"]}[first["id"]]
    assert (again["assistant_id"], again["pinned"]) == (first["assistant_id"], False)
    # Pinning it to them again while they are away is refused, and changes nothing.
    resp = await client.put(
        f"/api/moves/{first['id']}/assignment", json={"assistant_id": other}, headers=admin
    )
    assert resp.status == 422
    assert "away on that day" in (await resp.json())["detail"]
    after = {m["id"]: m for m in (await (await client.get(url, headers=admin)).json())["moves"]}
    assert after[first["id"]]["version"] == again["version"]


async def test_a_pin_that_cannot_be_done_is_flagged_and_then_planned_like_any_move(
    client, org, login
):
    admin, url, first, _emails = await _two_on_duty_and_a_day(client, org, login)
    late_shift = await add_assistant(client.app[DATABASE], org, "pat@test.example")
    afternoons = [{"weekday": d, "start": "15:00", "end": "17:00", "breaks": []} for d in range(7)]
    resp = await client.put(
        f"/api/assistants/{late_shift}/duty", json={"patterns": afternoons}, headers=admin
    )
    assert resp.status == 200, await resp.text()
    resp = await client.put(
        f"/api/moves/{first['id']}/assignment", json={"assistant_id": late_shift}, headers=admin
    )
    assert resp.status == 200, await resp.text()
    flagged = await resp.json()
    assert (flagged["assistant_id"], flagged["pinned"]) == (None, False)
    assert flagged["status_reason"] == "the pinned assistant cannot do it"
    resp = await client.post(url.replace("/rota?", "/rota/replan?"), headers=admin)
    again = {m["id"]: m for m in (await resp.json())["moves"]}[first["id"]]
    assert again["assistant_id"] not in (None, late_shift)
    assert again["pinned"] is False


async def test_when_everybody_declined_the_school_and_key_worker_hear_at_once(client, org, login):
    _admin, _url, first, emails = await _two_on_duty_and_a_day(client, org, login)
    holder = first["assistant_id"]
    [other] = set(emails) - {holder}
    resp = await client.post(
        f"/api/moves/{first['id']}/cant",
        json={"reason": "lift broken"},
        headers=await login(emails[holder]),
    )
    assert (await resp.json())["assistant_id"] == other
    await sign_in(client, emails[other])
    page = await (await client.get("/assistant")).text()
    resp = await client.post(
        f"/rota/moves/{first['id']}/cant",
        data={"csrf_token": csrf_of(page), "reason": "with a pupil in crisis"},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    async with client.app[DATABASE].sessions() as db:
        from scheduler.rota.models import MoveRow

        row = await db.get(MoveRow, first["id"])
    assert row is not None
    assert (row.status, row.assistant_id) == ("pending", None)
    assert "with a pupil in crisis" in (row.status_reason or "")
    assert "nobody else on duty can do it in time" in (row.status_reason or "")
    failed = [
        n for n in await _kinds(client, login, "hospital_staff") if n["kind"] == "move_failed"
    ]
    assert len(failed) == 1
    assert "with a pupil in crisis" in failed[0]["body"]
