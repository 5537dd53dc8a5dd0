"""The rota's retention job: moves (and their declines) after ``rota_retention_days``, a day's
notes after a week; nothing younger is touched. On SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from integration.test_rota_reoffer import _two_on_duty_and_a_day
from sqlalchemy import func, select

from scheduler.rota.models import MoveRow, RotaChangeRow, RotaDeclineRow, RotaMorningRow
from scheduler.rota.retention import purge_old_rota
from telepresence.platform.clock import FixedClock
from telepresence.platform.http.context import DATABASE, JOBS


async def _counts(database) -> dict[str, int]:
    async with database.sessions() as db:
        return {
            model.__tablename__: int(
                (await db.execute(select(func.count()).select_from(model))).scalar_one()
            )
            for model in (MoveRow, RotaDeclineRow, RotaChangeRow, RotaMorningRow)
        }


async def test_old_moves_and_day_notes_are_purged_and_nothing_younger(client, org, login):
    _admin, _url, first, emails = await _two_on_duty_and_a_day(client, org, login)
    resp = await client.post(
        f"/api/moves/{first['id']}/cant",
        json={"reason": "lift broken"},
        headers=await login(emails[first["assistant_id"]]),
    )
    assert resp.status == 200, await resp.text()
    database = client.app[DATABASE]
    async with database.transaction() as db:
        move = await db.get(MoveRow, first["id"])
        assert move is not None
        day = move.local_date
        db.add(RotaMorningRow(school_id=org.school_id, local_date=day, planned_at=move.due))
    before = await _counts(database)
    assert all(before.values()), before  # a move, a decline, change notes and a morning

    context = client.app[JOBS].context
    retention = context.settings.rota_retention_days

    def on(days_after: int):
        now = datetime.combine(day + timedelta(days=days_after), time(3), UTC)
        return replace(context, clock=FixedClock(now))

    assert await purge_old_rota(on(7)) == 0  # a week on: every note still counts
    assert await _counts(database) == before
    gone = await purge_old_rota(on(8))
    after_notes = await _counts(database)
    assert after_notes == {**before, "rota_changes": 0, "rota_mornings": 0}
    assert gone == before["rota_changes"] + before["rota_mornings"]
    assert await purge_old_rota(on(retention)) == 0  # the last day the moves are kept
    assert await purge_old_rota(on(retention + 1)) == before["rota_moves"] + 1
    assert await _counts(database) == dict.fromkeys(before, 0)
