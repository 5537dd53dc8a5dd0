"""Security of the rota: an assistant's calendar link, and whose "Can't do it" reasons show."""

from __future__ import annotations

import re

from factories import PASSWORD
from integration.rota_helpers import LAB_THEN_S12, add_assistant, on_duty_all_week, robbie_tomorrow

from scheduler.rota.models import MoveRow
from telepresence.platform.http.context import DATABASE


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match
    return match.group(1)


async def _assistant_page(client, org) -> str:
    signed = await client.post(
        "/login",
        data={"email": org.email("assistant"), "password": PASSWORD},
        allow_redirects=False,
    )
    assert signed.status == 303
    resp = await client.get("/assistant")
    assert resp.status == 200
    return await resp.text()


async def test_get_my_calendar_link_shows_the_new_link_once(client, org):
    """The finding: 500 'Cannot clone request after reading its content', after saving."""
    page = await _assistant_page(client, org)
    resp = await client.post("/rota/feed", data={"csrf_token": _csrf(page)})
    assert resp.status == 200, await resp.text()
    link = re.search(r"https?://[^\"<\s]+/feeds/assistants/[^\"<\s]+\.ics", await resp.text())
    assert link
    path = link.group(0).split("/feeds/", 1)[1]
    feed = await client.get(f"/feeds/{path}")
    assert feed.status == 200
    assert feed.headers["Content-Type"].startswith("text/calendar")


async def test_the_assistant_page_shows_no_link_from_the_address_bar(client, org):
    await _assistant_page(client, org)
    html = await (await client.get("/assistant?feed=https://evil.example/phish.ics")).text()
    assert "evil.example" not in html


async def test_a_cant_do_reason_is_for_staff_and_the_assistant_who_gave_it(client, org, login):
    """The finding: 'off sick today - migraine' was shown to the other assistants."""
    database = client.app[DATABASE]
    jo = org.users["assistant"].id
    await add_assistant(database, org, "kim@test.example")
    await on_duty_all_week(client, await login("admin"), jo)
    _, day = await robbie_tomorrow(client, org, *LAB_THEN_S12)
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    mine = await login("assistant")
    first = (await (await client.get(url, headers=mine)).json())["moves"][0]
    said = await client.post(
        f"/api/moves/{first['id']}/cant",
        json={"reason": "off sick today - migraine"},
        headers=mine,
    )
    assert said.status == 200, await said.text()
    assert "migraine" in await said.text()  # the assistant who said it sees it
    assert "migraine" in await (await client.get(url, headers=mine)).text()
    assert "migraine" in await (await client.get(url, headers=await login("coordinator"))).text()
    colleague = await login("kim@test.example")
    seen = await client.get(url, headers=colleague)
    assert seen.status == 200
    assert "migraine" not in await seen.text()
    moves = (await seen.json())["moves"]
    assert all(m["declines"] == [] for m in moves)


async def test_the_assistant_page_tells_a_colleagues_reason_to_nobody_else(
    client, org, login, clock
):
    """The live list printed a failed move's reason unfiltered, a colleague's included."""
    from datetime import timedelta

    database = client.app[DATABASE]
    jo = org.users["assistant"].id
    kim = await add_assistant(database, org, "kim@test.example")
    await on_duty_all_week(client, await login("admin"), jo, kim)
    _, day = await robbie_tomorrow(client, org, *LAB_THEN_S12)
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    kim_headers = await login("kim@test.example")
    jo_headers = await login("assistant")
    moves = (await (await client.get(url, headers=jo_headers)).json())["moves"]
    move_id = next(m["id"] for m in moves if m["assistant_id"] == jo)
    for headers, reason in ((jo_headers, "off sick today - migraine"), (kim_headers, "tired")):
        said = await client.post(
            f"/api/moves/{move_id}/cant", json={"reason": reason}, headers=headers
        )
        assert said.status == 200, await said.text()
    # However it came to be on Kim's list as failed (staff handing it back, say):
    async with database.transaction() as session:
        row = await session.get(MoveRow, move_id)
        row.status, row.assistant_id = "failed", kim
    staff = await (await client.get(url, headers=await login("coordinator"))).text()
    assert "migraine" in staff  # staff see it
    clock.advance(timedelta(days=1))
    signed = await client.post(
        "/login", data={"email": "kim@test.example", "password": PASSWORD}, allow_redirects=False
    )
    assert signed.status == 303
    html = await (await client.get("/assistant?live=1")).text()
    assert f'data-move="{move_id}"' in html
    assert "migraine" not in html
    assert "Someone can&#39;t do it" in html
