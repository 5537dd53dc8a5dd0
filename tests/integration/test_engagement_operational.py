"""Operational alerts as engagement alerts, on each database: a move not done, a robot offline
or low before a booked lesson, "too unwell today"; once while open, cleared when the cause goes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from factories import PASSWORD, PUPIL_PIN, add_booking, add_device
from integration.rota_helpers import LAB_THEN_S12, on_duty_all_week, robbie_tomorrow
from sqlalchemy import select, update

from device_registry.models import Device
from scheduler.rota.domain.moves import BatteryWarning
from scheduler.rota.jobs import escalate_move
from scheduler.rota.listener import ROTA_ALERTS
from telepresence.engagement.jobs import compute_finished_outcomes, send_digests
from telepresence.engagement.models import AlertRecipientRow, AlertRow
from telepresence.platform.events.notifier import Notice
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.platform.models import User


async def _alerts(database, rule: str) -> list[AlertRow]:
    async with database.sessions() as db:
        query = select(AlertRow).where(AlertRow.rule == rule).order_by(AlertRow.opened_at)
        return list(await db.scalars(query))


async def _recipients(database, alert_id: str) -> set[str]:
    async with database.sessions() as db:
        query = select(AlertRecipientRow.user_id).where(AlertRecipientRow.alert_id == alert_id)
        return set(await db.scalars(query))


async def _coordinators_and_key_worker(database, org) -> set[str]:
    async with database.sessions() as db:
        query = select(User.id).where(
            User.provider_id == org.provider_id, User.role == "coordinator"
        )
        return set(await db.scalars(query)) | {org.users["hospital_staff"].id}


async def _run(client) -> None:
    await compute_finished_outcomes(client.app[JOBS].context)


async def test_a_move_not_done_opens_one_alert_and_it_clears_when_done(client, org, login):
    database, admin = client.app[DATABASE], await login("admin")
    await on_duty_all_week(client, admin, org.users["assistant"].id)
    _, day = await robbie_tomorrow(client, org, *LAB_THEN_S12)
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    moves = (await (await client.get(url, headers=admin)).json())["moves"]
    move = next(m for m in moves if m["assistant_id"])
    await _run(client)
    assert await _alerts(database, "move_not_done") == []  # not due yet: nothing to say
    assert await escalate_move(client.app[JOBS].context, move_id=move["id"]) is True
    await _run(client)
    await _run(client)  # again: still one
    [alert] = await _alerts(database, "move_not_done")
    assert (alert.status, alert.pupil_id, alert.subject_key) == (
        "open",
        org.pupil.id,
        f"move:{move['id']}",
    )
    assert "from S12 to Lab 3" in alert.summary
    assert "Maths at 10:00" in alert.summary
    assert alert.figures["link"] == f"/schools/{org.school_id}/rota?date={day.isoformat()}"
    assert await _recipients(database, alert.id) == await _coordinators_and_key_worker(
        database, org
    )
    # The rota's own notice to the key worker still goes out, as before.
    staff = await login("hospital_staff")
    notices = await (await client.get("/api/notifications", headers=staff)).json()
    assert [n["kind"] for n in notices if n["kind"] == "move_escalated"] == ["move_escalated"]
    listed = await (
        await client.get("/api/engagement/alerts", headers=await login("coordinator"))
    ).json()
    assert [a["rule"] for a in listed] == ["move_not_done"]
    # Done after all (late): the alert clears itself at the next run.
    done = await client.post(f"/api/moves/{move['id']}/done", json={}, headers=admin)
    assert done.status == 200, await done.text()
    await _run(client)
    [cleared] = await _alerts(database, "move_not_done")
    assert (cleared.status, cleared.resolved_by) == ("resolved", "system")
    assert "the move was done" in cleared.note
    await _run(client)
    assert len(await _alerts(database, "move_not_done")) == 1  # not opened again


async def test_a_move_nobody_could_do_opens_the_alert_at_once(client, org, login):
    database, admin = client.app[DATABASE], await login("admin")
    await on_duty_all_week(client, admin, org.users["assistant"].id)
    _, day = await robbie_tomorrow(client, org, *LAB_THEN_S12)
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    moves = (await (await client.get(url, headers=admin)).json())["moves"]
    move = next(m for m in moves if m["assistant_id"])
    assistant = await login("assistant")
    resp = await client.post(
        f"/api/moves/{move['id']}/cant", json={"reason": "lift broken"}, headers=assistant
    )
    assert resp.status == 200, await resp.text()
    [alert] = await _alerts(database, "move_not_done")  # without waiting for the job
    assert "lift broken" in alert.summary
    await _run(client)
    assert len(await _alerts(database, "move_not_done")) == 1


async def test_a_robot_offline_before_a_booked_lesson_opens_one_alert(client, org, login):
    database = client.app[DATABASE]
    robot = await add_device(database, org, name="Robbie", online=False)
    await add_booking(database, org, robot.id, starts_in=timedelta(minutes=20))
    far = await add_device(database, org, name="Later", serial="ROBOT-0002", online=False)
    await add_booking(database, org, far.id, starts_in=timedelta(hours=3))
    await _run(client)
    await _run(client)
    [alert] = await _alerts(database, "device_offline")
    assert alert.subject_key == f"device:{robot.id}"
    assert "Robot 'Robbie' is offline before Maths" in alert.summary
    async with database.transaction() as db:
        await db.execute(update(Device).where(Device.id == robot.id).values(online=True))
    await _run(client)
    [back] = await _alerts(database, "device_offline")
    assert (back.status, back.resolved_by) == ("resolved", "system")
    assert "back online" in back.note


async def test_a_robot_low_before_a_lesson_opens_one_alert_until_charging(client, org, login):
    database = client.app[DATABASE]
    robot = await add_device(database, org, online=True, battery_pct=15, charging=False)
    booking = await add_booking(database, org, robot.id, starts_in=timedelta(hours=1))
    warning = BatteryWarning(device_id=robot.id, booking_id=booking, projected_pct=-4.0)
    hooks = client.app[ROTA_ALERTS]
    await hooks.battery_low(org.school_id, [warning])
    await hooks.battery_low(org.school_id, [warning])  # the rota re-plans: said again
    [alert] = await _alerts(database, "device_battery_low")
    assert "may run out of battery during Maths" in alert.summary
    assert "about 0 % left" in alert.summary
    staff = await login("hospital_staff")
    notices = await (await client.get("/api/notifications", headers=staff)).json()
    assert [n["kind"] for n in notices].count("battery_low") == 1  # the notice, as before
    await _run(client)
    assert (await _alerts(database, "device_battery_low"))[0].status == "open"
    async with database.transaction() as db:
        await db.execute(update(Device).where(Device.id == robot.id).values(charging=True))
    await _run(client)
    [cleared] = await _alerts(database, "device_battery_low")
    assert (cleared.status, cleared.resolved_by) == ("resolved", "system")


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match
    return match.group(1)


async def _pupil(client) -> dict[str, str]:
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "samk42", "pin": PUPIL_PIN}
    )
    assert resp.status == 200, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def test_too_unwell_today_is_an_alert_on_the_inbox_acknowledged_and_resolved(
    client, org, login
):
    database = client.app[DATABASE]
    robot = await add_device(database, org, online=True)
    await add_booking(database, org, robot.id, starts_in=timedelta(hours=1))
    pupil = await _pupil(client)
    resp = await client.post(f"/api/pupils/{org.pupil.id}/unwell-today", headers=pupil)
    assert resp.status == 200, await resp.text()
    [alert] = await _alerts(database, "unwell_today")
    assert alert.summary.startswith("Too unwell for lessons today (")
    assert "Maths" in alert.summary
    assert await _recipients(database, alert.id) == await _coordinators_and_key_worker(
        database, org
    )
    # The key worker's notice, as before.
    staff = await login("hospital_staff")
    notices = await (await client.get("/api/notifications", headers=staff)).json()
    assert [n["kind"] for n in notices].count("pupil_unwell") == 1
    # Said twice the same day: still one alert.
    assert (await client.post(f"/api/pupils/{org.pupil.id}/unwell-today", headers=pupil)).ok
    assert len(await _alerts(database, "unwell_today")) == 1

    signed = await client.post(
        "/login",
        data={"email": org.email("coordinator"), "password": PASSWORD, "next": ""},
        allow_redirects=False,
    )
    assert signed.status == 303
    inbox = await (await client.get("/inbox")).text()
    assert f'href="/engagement/alerts/{alert.id}"' in inbox
    assert "Sam Kowalski</strong>: Too unwell for lessons today" in inbox
    page = await (await client.get(f"/engagement/alerts/{alert.id}")).text()
    assert "Too unwell for lessons today" in page
    assert f'href="/pupils/{org.pupil.id}/unavailability">Open the pupil' in page
    dashboard = await (await client.get("/engagement")).text()
    assert f'href="/engagement/alerts/{alert.id}"' in dashboard
    form = {"csrf_token": _csrf(page), "action": "acknowledge", "note": "Ward says: resting"}
    ack = await client.post(f"/engagement/alerts/{alert.id}", data=form, allow_redirects=False)
    assert ack.status == 303
    again = await client.post(f"/engagement/alerts/{alert.id}", data=form)
    assert again.status == 409
    resolve = form | {"action": "resolve", "note": "Spoke to the key worker"}
    done = await client.post(f"/engagement/alerts/{alert.id}", data=resolve, allow_redirects=False)
    assert done.status == 303
    [resolved] = await _alerts(database, "unwell_today")
    assert (resolved.status, resolved.resolved_by) == ("resolved", org.users["coordinator"].id)
    assert "Spoke to the key worker" in resolved.note
    # Said again after it was resolved by hand: not opened again the same day.
    assert (await client.post(f"/api/pupils/{org.pupil.id}/unwell-today", headers=pupil)).ok
    assert len(await _alerts(database, "unwell_today")) == 1


async def test_too_unwell_today_clears_when_the_day_is_over_and_goes_in_the_digest(
    client, org, login, clock
):
    database = client.app[DATABASE]
    staff = await login("admin")
    resp = await client.post(f"/api/pupils/{org.pupil.id}/unwell-today", headers=staff)
    assert resp.status == 200, await resp.text()
    [alert] = await _alerts(database, "unwell_today")
    assert "no lessons were left to cancel" in alert.summary
    await _run(client)
    assert (await _alerts(database, "unwell_today"))[0].status == "open"

    sent: list[Notice] = []

    class Recorder:
        async def notify(self, notice: Notice) -> bool:
            sent.append(notice)
            return True

    context = client.app[JOBS].context
    digest_context = type(context)(
        settings=context.settings.model_copy(update={"smtp_host": "mail.invalid"}),
        database=context.database,
        clock=context.clock,
        events=context.events,
        notifier=Recorder(),
    )
    assert await send_digests(digest_context, datetime.now(UTC)) >= 1
    assert any("Sam Kowalski: Too unwell for lessons today" in n.body for n in sent)

    clock.advance(timedelta(days=1, hours=1))
    await _run(client)
    [cleared] = await _alerts(database, "unwell_today")
    assert (cleared.status, cleared.resolved_by) == ("resolved", "system")
    assert "the day is over" in cleared.note
    # The next digest still says so (it goes after the pupil's midnight).
    sent.clear()
    assert await send_digests(digest_context, clock.now()) >= 1
    [body] = {n.body for n in sent if n.email == org.email("coordinator")}
    cleared_part = body.split("Cleared by themselves since yesterday:")[1]
    assert "Sam Kowalski: Too unwell for lessons today" in cleared_part
