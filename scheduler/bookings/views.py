"""Converting between bookings' domain and database objects and their API schemas."""

from __future__ import annotations

from scheduler.bookings.domain import BookedFields, OccurrenceView
from scheduler.bookings.models import UnavailabilityRow
from scheduler.bookings.ports import PastLesson
from scheduler.bookings.schemas import (
    BookingOut,
    LessonOutcomeOut,
    OccurrenceOut,
    UnavailabilityIn,
    UnavailabilityOut,
)
from scheduler.bookings.unavailability.domain import (
    OneOffUnavailable,
    Unavailable,
    WeeklyUnavailable,
)
from telepresence.platform.errors import InvalidInput

__all__ = ["booking_out", "occurrence_out", "unavailability_out", "unavailable_in"]


def booking_out(b: BookedFields) -> BookingOut:
    """The API view of a booking."""
    return BookingOut(
        id=b.id,
        pupil_id=b.pupil_id,
        lesson_key=b.lesson_key,
        date=b.lesson_date,
        start=b.starts_at,
        end=b.ends_at,
        subject=b.subject,
        room=b.room,
        classroom_device_id=b.classroom_device_id,
        pupil_device_id=b.pupil_device_id,
        status=b.status,
        outcome=b.outcome,
        cancel_reason=b.cancel_reason,
        flagged_reason=b.flagged_reason,
    )


def occurrence_out(
    view: OccurrenceView[BookedFields], past: PastLesson | None = None
) -> OccurrenceOut:
    """The API view of an occurrence with its booking state (and outcome, once over)."""
    occ, lesson = view.occurrence, view.lesson
    return OccurrenceOut(
        lesson_id=view.lesson_id,
        lesson_key=occ.lesson_key,
        date=occ.date,
        start_local=f"{occ.start_local:%H:%M}",
        end_local=f"{occ.end_local:%H:%M}",
        start=occ.start,
        end=occ.end,
        subject=lesson.subject,
        class_group=lesson.class_group,
        teacher=lesson.teacher,
        room=lesson.room,
        week=occ.week,
        state=view.state,
        booking=booking_out(view.booking) if view.booking else None,
        unavailable=list(view.unavailable),
        outcome=(
            LessonOutcomeOut(outcome=past.outcome, reason=past.reason, description=past.words)
            if past
            else None
        ),
    )


def unavailable_in(body: UnavailabilityIn) -> Unavailable:
    """The domain unavailability of a request body; ``InvalidInput`` if impossible."""
    try:
        if body.starts_at is not None and body.ends_at is not None:
            return OneOffUnavailable("", body.reason, body.starts_at, body.ends_at)
        if body.start is None or body.end is None:
            raise ValueError("a weekly unavailability needs start and end")
        return WeeklyUnavailable(
            "",
            body.reason,
            frozenset(body.weekdays),
            body.start,
            body.end,
            body.valid_from,
            body.valid_to,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc), errors=[{"field": "body", "message": str(exc)}]) from exc


def unavailability_out(row: UnavailabilityRow, description: str) -> UnavailabilityOut:
    """The API view of a stored unavailability."""
    return UnavailabilityOut(
        id=row.id,
        kind="weekly" if row.kind == "weekly" else "once",
        reason=row.reason,
        weekdays=row.weekdays,
        start=f"{row.start_time:%H:%M}" if row.start_time else None,
        end=f"{row.end_time:%H:%M}" if row.end_time else None,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        description=description,
    )
