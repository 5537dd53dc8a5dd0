"""Engagement jobs on each database: outcomes from timelines, the nightly recompute, alerts."""

from __future__ import annotations

from datetime import timedelta

from factories import add_device
from integration.engagement_helpers import event, past_lesson, past_weekdays
from sqlalchemy import func, select

from scheduler.bookings.models import Booking
from telepresence.engagement.jobs import compute_finished_outcomes, nightly_engagement
from telepresence.engagement.models import AlertRecipientRow, AlertRow, OutcomeRow
from telepresence.engagement.outcomes import finished_bookings
from telepresence.notifications.models import Notification
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.sessions.models import LessonSession


async def _outcomes(database) -> dict[str, OutcomeRow]:
    async with database.sessions() as db:
        return {r.booking_id: r for r in await db.scalars(select(OutcomeRow))}


async def test_outcomes_are_computed_once_finished_and_recomputed_with_late_events(
    client, org, clock
):
    database = client.app[DATABASE]
    robot = await add_device(database, org, pupil_id=org.pupil.id)
    d1, d2, d3, d4 = past_weekdays(4)
    attended = await past_lesson(database, org, robot.id, d1, present=[(0, 20), (24, 60)])
    partial = await past_lesson(database, org, robot.id, d2, present=[(0, 30)])
    not_moved = await past_lesson(database, org, robot.id, d3, failed_move=True)
    cancelled = await past_lesson(
        database, org, robot.id, d4, status="cancelled", cancel_reason="too unwell today"
    )
    context = client.app[JOBS].context
    assert await compute_finished_outcomes(context) == 4
    assert await compute_finished_outcomes(context) == 0  # nothing new has finished
    rows = await _outcomes(database)
    assert (rows[attended].outcome, rows[attended].present_seconds) == ("attended", 56 * 60)
    assert (rows[attended].gaps, rows[attended].reconnects) == (1, 1)
    assert (rows[partial].outcome, rows[partial].present_seconds) == ("partial", 30 * 60)
    assert (rows[not_moved].outcome, rows[not_moved].reason) == ("missed", "robot_not_moved")
    assert rows[not_moved].move_id is not None
    assert (rows[cancelled].outcome, rows[cancelled].reason) == ("cancelled", "unwell")

    # A late event: the partial lesson's pupil was back from 32 to 60 (recorded afterwards).
    async with database.transaction() as db:
        session = await db.scalar(select(LessonSession).where(LessonSession.booking_id == partial))
        start = rows[partial].starts_at
        db.add(event(session.id, start + timedelta(minutes=32), "reconnected"))
        db.add(event(session.id, start + timedelta(minutes=60), "left"))
    assert await nightly_engagement(context, force=True) is True
    assert await nightly_engagement(context, force=True) is False  # once a day
    again = await _outcomes(database)
    assert (again[partial].outcome, again[partial].present_seconds) == ("attended", 58 * 60)
    assert len(again) == 4
    for key in (attended, not_moved, cancelled):  # idempotent for the rest
        assert (again[key].outcome, again[key].present_seconds) == (
            rows[key].outcome,
            rows[key].present_seconds,
        )


async def _alerts(database, rule: str) -> list[AlertRow]:
    async with database.sessions() as db:
        return list(await db.scalars(select(AlertRow).where(AlertRow.rule == rule)))


async def test_an_alert_opens_once_stays_single_while_open_and_clears(client, org, clock):
    database = client.app[DATABASE]
    robot = await add_device(database, org, pupil_id=org.pupil.id)
    days = past_weekdays(4)
    await past_lesson(database, org, robot.id, days[0], present=[(0, 60)])
    for day in days[1:]:
        await past_lesson(database, org, robot.id, day)  # never joined
    context = client.app[JOBS].context
    await compute_finished_outcomes(context)
    assert await nightly_engagement(context, force=True)
    [alert] = await _alerts(database, "missed_in_a_row")
    assert alert.status == "open"
    assert alert.figures == {"missed_in_a_row": 3}
    async with database.sessions() as db:
        recipients = set(
            await db.scalars(
                select(AlertRecipientRow.user_id).where(AlertRecipientRow.alert_id == alert.id)
            )
        )
        told = await db.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.kind == "engagement_alert")
        )
    assert recipients == {org.users["hospital_staff"].id, org.users["coordinator"].id}
    assert told == 2

    clock.advance(timedelta(days=1))  # the next night: still missing, still one alert
    assert await nightly_engagement(context, force=True)
    assert [a.id for a in await _alerts(database, "missed_in_a_row")] == [alert.id]

    # The pupil joins a lesson: the rule no longer holds and the alert clears.
    today = (clock.now()).date()
    await past_lesson(
        database, org, robot.id, past_weekdays(1, today + timedelta(days=1))[0], present=[(0, 60)]
    )
    await compute_finished_outcomes(context)
    clock.advance(timedelta(days=1))
    assert await nightly_engagement(context, force=True)
    [cleared] = await _alerts(database, "missed_in_a_row")
    assert cleared.status == "resolved"
    assert cleared.resolved_by == "system"


async def test_the_nightly_recompute_takes_only_the_lessons_that_changed(client, org, clock):
    database = client.app[DATABASE]
    robot = await add_device(database, org, pupil_id=org.pupil.id)
    d1, d2, d3 = past_weekdays(3)
    joined = await past_lesson(database, org, robot.id, d1, present=[(0, 30)])
    missed = await past_lesson(database, org, robot.id, d2)
    await past_lesson(database, org, robot.id, d3, present=[(0, 60)])
    await compute_finished_outcomes(client.app[JOBS].context)
    now = clock.now()

    async def due() -> list[str]:
        async with database.sessions() as db:
            return await finished_bookings(
                db, now, grace=timedelta(minutes=10), recompute_since=now - timedelta(days=14)
            )

    assert await due() == [], "nothing changed since the outcomes were computed"
    async with database.transaction() as db:
        session = await db.scalar(select(LessonSession).where(LessonSession.booking_id == joined))
        db.add(event(session.id, now - timedelta(days=30), "quality"))  # late, and out of order
        booking = await db.get(Booking, missed)
        booking.status, booking.cancel_reason = "cancelled", "too unwell today"
    assert sorted(await due()) == sorted([joined, missed])
    await compute_finished_outcomes(client.app[JOBS].context)  # nothing new has finished
    assert sorted(await due()) == sorted([joined, missed])
    assert await nightly_engagement(client.app[JOBS].context, force=True)
    assert await due() == []
    rows = await _outcomes(database)
    assert rows[missed].outcome == "cancelled"
