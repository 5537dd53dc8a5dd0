"""The rota's dated jobs: scheduled when a day is planned, a reminder once, an escalation."""

from __future__ import annotations

from integration.test_rota_pages import _day, _moves
from sqlalchemy import select

from scheduler.rota.jobs import escalate_move, remind_move
from scheduler.rota.models import MoveRow
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.platform.jobs.jobstore import ScheduledJob


async def test_planning_a_day_schedules_a_reminder_and_an_escalation_per_move(client, org, login):
    _, day, admin = await _day(client, org, login)
    moves = await _moves(client, org, day, admin)
    assert moves
    async with client.app[DATABASE].sessions() as db:
        ids = set(await db.scalars(select(ScheduledJob.id)))
    for move in moves:
        assert f"move-escalation:{move['id']}" in ids
        if move["assistant_id"]:
            assert f"move-reminder:{move['id']}" in ids


async def test_a_reminder_goes_once_and_an_unconfirmed_move_is_escalated(client, org, login):
    _, day, admin = await _day(client, org, login)
    move = next(m for m in await _moves(client, org, day, admin) if m["assistant_id"])
    context = client.app[JOBS].context
    assert await remind_move(context, move_id=move["id"]) is True
    assert await remind_move(context, move_id=move["id"]) is False  # a re-run tells nobody twice
    mine = await (await client.get("/api/notifications", headers=await login("assistant"))).json()
    reminders = [n for n in mine if n["kind"] == "move_reminder"]
    assert len(reminders) == 1
    assert "from S12 to Lab 3" in reminders[0]["subject"]
    assert await escalate_move(context, move_id=move["id"]) is True
    async with client.app[DATABASE].sessions() as db:
        row = await db.get(MoveRow, move["id"])
    assert row is not None
    assert (row.status, row.status_reason) == ("escalated", "not confirmed in time")
    key_worker = await (
        await client.get("/api/notifications", headers=await login("hospital_staff"))
    ).json()
    assert [n["kind"] for n in key_worker if n["kind"] == "move_escalated"] == ["move_escalated"]
    assert await escalate_move(context, move_id=move["id"]) is False


async def test_a_done_move_is_neither_reminded_nor_escalated(client, org, login):
    _, day, admin = await _day(client, org, login)
    move = next(m for m in await _moves(client, org, day, admin) if m["assistant_id"])
    done = await client.post(f"/api/moves/{move['id']}/done", json={}, headers=admin)
    assert done.status == 200
    context = client.app[JOBS].context
    assert await remind_move(context, move_id=move["id"]) is False
    assert await escalate_move(context, move_id=move["id"]) is False
    async with client.app[DATABASE].sessions() as db:
        ids = set(await db.scalars(select(ScheduledJob.id)))
    assert f"move-reminder:{move['id']}" not in ids
    assert f"move-escalation:{move['id']}" not in ids


async def test_each_assistant_gets_the_morning_rota_once(client, org, login, clock):
    from datetime import UTC, datetime

    from scheduler.rota.jobs import send_morning_rotas

    _, day, admin = await _day(client, org, login)
    moves = await _moves(client, org, day, admin)
    due = datetime.fromisoformat(moves[0]["due"])
    # 08:00 London time on the robot's day (the demo zone of the test school)
    from zoneinfo import ZoneInfo

    eight = datetime(day.year, day.month, day.day, 8, tzinfo=ZoneInfo("Europe/London"))
    clock.offset = eight.astimezone(UTC) - datetime.now(UTC)
    context = client.app[JOBS].context
    assert await send_morning_rotas(context) == 1
    assert await send_morning_rotas(context) == 0
    mine = await (await client.get("/api/notifications", headers=await login("assistant"))).json()
    morning = [n for n in mine if n["kind"] == "morning_rota"]
    assert len(morning) == 1
    assert due > eight
