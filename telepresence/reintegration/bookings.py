"""What a phase does to the pupil's bookings: days in school are not remote lessons.

The plan works through the scheduler's own public services, so the scheduler
needs no knowledge of plans: a future booking that falls in time spent in
school is cancelled (``cancel_booking``: its event makes the rota re-plan, so
the robot is no longer moved for it), and a weekly unavailability "In school"
(``add_unavailability``) makes the scheduler refuse new remote bookings on
those weekdays. Leaving those phases ends that unavailability.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings.availability import add_unavailability
from scheduler.bookings.models import Booking, UnavailabilityRow
from scheduler.bookings.ports import BookingEvent
from scheduler.bookings.services import cancel_booking
from scheduler.bookings.unavailability.domain import WeeklyUnavailable
from telepresence.platform.models import School, zone_of
from telepresence.platform.security.identity import Principal
from telepresence.reintegration.domain import (
    Phase,
    SchoolDays,
    bookings_in_school,
    weekdays_in_school,
)
from telepresence.reintegration.models import PlanRow

__all__ = ["IN_SCHOOL", "follow_phase"]

IN_SCHOOL = "In school (reintegration plan)"
END_OF_DAY = time(23, 59)


async def _end_guard(session: AsyncSession, pupil_id: str, today: datetime) -> None:
    """End the plan's earlier in-school unavailability (delete it if it had not begun)."""
    day = today.date()
    mine = (
        UnavailabilityRow.pupil_id == pupil_id,
        UnavailabilityRow.reason == IN_SCHOOL,
        UnavailabilityRow.kind == "weekly",
    )
    await session.execute(
        delete(UnavailabilityRow).where(*mine, UnavailabilityRow.valid_from >= day)
    )
    rows = await session.scalars(select(UnavailabilityRow).where(*mine))
    for row in rows:
        if row.valid_to is None or row.valid_to >= day:
            row.valid_to = day - timedelta(days=1)


async def follow_phase(
    session: AsyncSession, who: Principal, plan: PlanRow, now: datetime
) -> list[BookingEvent]:
    """Bring the bookings in line with the phase; returns the events to publish after commit."""
    phase = Phase(plan.phase)
    days = SchoolDays(frozenset(plan.school_weekdays), frozenset(plan.school_lessons))
    school = await session.get(School, plan.school_id)
    local_now = now.astimezone(zone_of(school))
    await _end_guard(session, plan.pupil_id, local_now)
    weekdays = weekdays_in_school(phase, days)
    if weekdays:
        guard = WeeklyUnavailable(
            id="",
            reason=IN_SCHOOL,
            weekdays=weekdays,
            start=time(0),
            end=END_OF_DAY,
            valid_from=local_now.date(),
        )
        await add_unavailability(session, who, plan.pupil_id, guard, now)
    live = await session.scalars(
        select(Booking).where(
            Booking.pupil_id == plan.pupil_id, Booking.status == "booked", Booking.starts_at > now
        )
    )
    slots = [(b.id, b.lesson_date, b.lesson_key) for b in live]
    events: list[BookingEvent] = []
    for booking_id in bookings_in_school(phase, days, slots):
        _booking, cancelled = await cancel_booking(session, who, booking_id, IN_SCHOOL, now)
        events += cancelled
    return events
