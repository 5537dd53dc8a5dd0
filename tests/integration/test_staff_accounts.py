"""The staff page (issue 16): the least powerful role by default, deactivating and
reactivating accounts, and an assistant's duty hours and days away set in a page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from factories import PASSWORD
from sqlalchemy import select

from scheduler.rota.models import AbsenceRow, DutyPatternRow
from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import AuditEntry, User


async def sign_in(client, email: str) -> None:
    client.session.cookie_jar.clear()
    resp = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "next": ""}, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def test_a_new_account_defaults_to_the_least_powerful_role(client, org):
    await sign_in(client, org.email("admin"))
    html = await (await client.get("/staff")).text()
    start = html.index('<select id="role"')
    select_html = html[start : html.index("</select>", start)]
    options = re.findall(r'<option value="(\w+)"( selected)?>', select_html)
    assert options[0] == ("assistant", " selected")
    assert [v for v, _ in options][-1] == "admin"
    assert sum(1 for _, chosen in options if chosen) == 1


async def test_an_admin_deactivates_and_reactivates_an_account_in_the_page(client, org, login):
    staff_id = org.users["hospital_staff"].id
    bearer = await login("hospital_staff")
    await sign_in(client, org.email("admin"))
    csrf = csrf_of(await (await client.get("/staff")).text())

    off = await client.post(
        f"/staff/{staff_id}/active",
        data={"active": "false", "csrf_token": csrf},
        allow_redirects=False,
    )
    assert off.status == 303
    page = await (await client.get(off.headers["Location"])).text()
    assert "The account is deactivated" in page
    assert f'aria-label="Reactivate {org.users["hospital_staff"].name}"' in page
    assert (await client.get("/api/pupils", headers=bearer)).status == 401

    on = await client.post(
        f"/staff/{staff_id}/active",
        data={"active": "true", "csrf_token": csrf},
        allow_redirects=False,
    )
    assert on.status == 303
    async with client.app[DATABASE].sessions() as session:
        assert (await session.get(User, staff_id)).active is True
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["user.deactivate", "user.reactivate"]


async def test_an_admin_cannot_deactivate_themself_and_bad_choices_change_nothing(client, org):
    admin_id = org.users["admin"].id
    await sign_in(client, org.email("admin"))
    csrf = csrf_of(await (await client.get("/staff")).text())
    own = await client.post(
        f"/staff/{admin_id}/active",
        data={"active": "false", "csrf_token": csrf},
        allow_redirects=False,
    )
    assert own.status == 409
    assert "cannot deactivate your own account" in await own.text()
    odd = await client.post(
        f"/staff/{org.users['coordinator'].id}/active",
        data={"active": "maybe", "csrf_token": csrf},
        allow_redirects=False,
    )
    assert odd.status == 422
    async with client.app[DATABASE].sessions() as session:
        users = list(await session.scalars(select(User)))
    assert all(u.active for u in users)


async def test_the_reactivate_api(client, org, login):
    admin = await login("admin")
    coordinator = org.users["coordinator"].id
    assert (await client.post(f"/api/users/{coordinator}/deactivate", headers=admin)).status == 204
    assert (await client.post(f"/api/users/{coordinator}/reactivate", headers=admin)).status == 204
    assert (await login("coordinator"))["Authorization"].startswith("Bearer ")
    own = await client.post(f"/api/users/{org.users['admin'].id}/deactivate", headers=admin)
    assert own.status == 409


async def test_staff_set_an_assistants_duty_hours_and_days_away_in_the_page(client, org):
    assistant = org.users["assistant"].id
    await sign_in(client, org.email("hospital_staff"))
    page = await client.get(f"/assistants/{assistant}/duty")
    assert page.status == 200
    html = await page.text()
    assert "Europe/London" in html
    csrf = csrf_of(html)
    saved = await client.post(
        f"/assistants/{assistant}/duty",
        data={
            "csrf_token": csrf,
            "start_0": "08:30",
            "end_0": "15:30",
            "break_start_0": "12:00",
            "break_end_0": "12:30",
            "start_2": "09:00",
            "end_2": "12:00",
            "max_moves_per_day": "6",
            "phone": "07700 900123",
        },
        allow_redirects=False,
    )
    assert saved.status == 303, await saved.text()
    shown = await (await client.get(saved.headers["Location"])).text()
    assert "Duty hours saved" in shown
    assert 'name="start_0" value="08:30"' in shown
    assert 'name="break_end_0" value="12:30"' in shown
    assert 'name="start_1" value=""' in shown
    async with client.app[DATABASE].sessions() as session:
        rows = list(await session.scalars(select(DutyPatternRow).order_by(DutyPatternRow.weekday)))
    assert [(r.weekday, f"{r.start_time:%H:%M}", r.breaks) for r in rows] == [
        (0, "08:30", [["12:00", "12:30"]]),
        (2, "09:00", []),
    ]

    first = datetime.now(UTC).date() + timedelta(days=1)
    away = await client.post(
        f"/assistants/{assistant}/absences",
        data={
            "csrf_token": csrf,
            "start_date": first.isoformat(),
            "end_date": (first + timedelta(days=2)).isoformat(),
            "reason": "course",
        },
        allow_redirects=False,
    )
    assert away.status == 303
    listed = await (await client.get(away.headers["Location"])).text()
    assert "Absence saved" in listed
    assert "course" in listed
    async with client.app[DATABASE].sessions() as session:
        absence = await session.scalar(select(AbsenceRow))
    assert absence is not None
    removed = await client.post(
        f"/assistants/{assistant}/absences/{absence.id}/remove",
        data={"csrf_token": csrf},
        allow_redirects=False,
    )
    assert removed.status == 303
    async with client.app[DATABASE].sessions() as session:
        assert await session.scalar(select(AbsenceRow)) is None


async def test_a_half_filled_day_or_a_reversed_time_changes_nothing(client, org):
    assistant = org.users["assistant"].id
    await sign_in(client, org.email("hospital_staff"))
    csrf = csrf_of(await (await client.get(f"/assistants/{assistant}/duty")).text())
    for data, says in [
        ({"start_0": "08:30"}, "Monday: give both the start and the end"),
        ({"start_1": "15:00", "end_1": "09:00"}, "Tuesday: ends before it starts"),
        ({"start_0": "08:00", "end_0": "09:00", "max_moves_per_day": "lots"}, "whole number"),
    ]:
        resp = await client.post(
            f"/assistants/{assistant}/duty", data=data | {"csrf_token": csrf}, allow_redirects=False
        )
        assert resp.status == 422
        assert says in await resp.text()
    backwards = await client.post(
        f"/assistants/{assistant}/absences",
        data={"csrf_token": csrf, "start_date": "2030-01-05", "end_date": "2030-01-01"},
        allow_redirects=False,
    )
    assert backwards.status == 422
    assert "The last day is before the first" in await backwards.text()
    async with client.app[DATABASE].sessions() as session:
        assert await session.scalar(select(DutyPatternRow)) is None
        assert await session.scalar(select(AbsenceRow)) is None


async def test_the_duty_page_is_for_assistants_only(client, org):
    await sign_in(client, org.email("admin"))
    resp = await client.get(f"/assistants/{org.users['coordinator'].id}/duty")
    assert resp.status == 404


async def test_deactivating_an_assistant_gives_their_moves_to_others(client, org, login):
    from integration.rota_helpers import LAB_THEN_S12, on_duty_all_week, robbie_tomorrow

    admin = await login("admin")
    assistant = org.users["assistant"].id
    await on_duty_all_week(client, admin, assistant)
    _robot, day = await robbie_tomorrow(client, org, *LAB_THEN_S12)
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    before = await (await client.get(url, headers=admin)).json()
    assert {m["assistant_id"] for m in before["moves"]} == {assistant}
    assert (await client.post(f"/api/users/{assistant}/deactivate", headers=admin)).status == 204
    after = await (await client.get(url, headers=admin)).json()
    assert {m["assistant_id"] for m in after["moves"]} == {None}
    assert (await client.post(f"/api/users/{assistant}/reactivate", headers=admin)).status == 204
    again = await (await client.get(url, headers=admin)).json()
    assert {m["assistant_id"] for m in again["moves"]} == {assistant}
