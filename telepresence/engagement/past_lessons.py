"""The outcomes of a pupil's past lessons, told to bookings through its ``LessonOutcomes`` port.

The timetable's week page and the occurrences API read these to say what
happened in a lesson ("Attended 52 of 60 min") instead of "Past".
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings.models import Booking
from scheduler.bookings.ports import PastLesson
from telepresence.engagement.domain import describe
from telepresence.engagement.models import OutcomeRow

__all__ = ["StoredLessonOutcomes"]


class StoredLessonOutcomes:
    """``scheduler.bookings.ports.LessonOutcomes`` over the stored outcomes."""

    async def of_pupil(
        self, session: AsyncSession, pupil_id: str, first: date, last: date
    ) -> list[PastLesson]:
        """The pupil's outcomes with a lesson date in ``[first, last]``, oldest booking first."""
        query = (
            select(
                OutcomeRow.booking_id,
                Booking.lesson_key,
                OutcomeRow.lesson_date,
                OutcomeRow.outcome,
                OutcomeRow.reason,
                OutcomeRow.present_seconds,
                OutcomeRow.booked_seconds,
            )
            .join(Booking, Booking.id == OutcomeRow.booking_id)
            .where(
                OutcomeRow.pupil_id == pupil_id,
                OutcomeRow.lesson_date >= first,
                OutcomeRow.lesson_date <= last,
            )
            .order_by(Booking.created_at, Booking.id)
        )
        return [
            PastLesson(
                booking_id=booking_id,
                lesson_key=key,
                lesson_date=day,
                outcome=outcome,
                reason=reason,
                words=describe(outcome, reason, present, booked),
            )
            for booking_id, key, day, outcome, reason, present, booked in (
                await session.execute(query)
            ).all()
        ]
