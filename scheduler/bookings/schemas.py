"""Request and response models of the bookings HTTP API (occurrences, bookings, unavailability).

Local dates are ``YYYY-MM-DD`` and local times ``HH:MM`` in the school's
zone; instants (``start``, ``end``, ``starts_at``) are UTC ISO 8601.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from scheduler.timetables.schemas import WeekLetterField
from telepresence.platform.http.routing import Schema

__all__ = [
    "BookingIn",
    "BookingOut",
    "BulkBookingIn",
    "BulkBookingOut",
    "CancelIn",
    "DateRangeQuery",
    "LessonOutcomeOut",
    "OccurrenceOut",
    "SkippedOut",
    "UnavailabilityIn",
    "UnavailabilityOut",
    "UnwellOut",
]


class DateRangeQuery(Schema):
    """A range of local dates, both ends inclusive."""

    from_: date = Field(alias="from")
    to: date


class BookingOut(BaseModel):
    """A booking of one occurrence."""

    id: str
    pupil_id: str
    lesson_key: str
    date: date
    start: datetime
    end: datetime
    subject: str
    room: str
    classroom_device_id: str
    pupil_device_id: str | None
    status: str
    outcome: str | None = Field(
        default=None,
        description="Once the lesson is over: attended, partial, missed (or cancelled)",
    )
    cancel_reason: str | None
    flagged_reason: str | None


class LessonOutcomeOut(BaseModel):
    """What became of a lesson that is over (computed a few minutes after it ends)."""

    outcome: str = Field(description="attended, partial, missed or cancelled")
    reason: str | None = Field(description="unwell, treatment, robot_not_moved, ...")
    description: str = Field(examples=["Attended 52 of 60 min", "Missed: robot not moved"])


class OccurrenceOut(BaseModel):
    """One dated lesson with its booking state.

    ``state``: ``booked``, ``bookable``, ``unavailable`` (see ``unavailable``)
    or ``past``. ``outcome``: what became of it once it is over and its
    outcome is computed (a cancelled booking's too); ``null`` before.
    """

    lesson_id: str
    lesson_key: str
    date: date
    start_local: str
    end_local: str
    start: datetime
    end: datetime
    subject: str
    class_group: str
    teacher: str
    room: str
    week: WeekLetterField | None
    state: Literal["booked", "bookable", "unavailable", "past"]
    booking: BookingOut | None
    unavailable: list[str]
    outcome: LessonOutcomeOut | None = None


class BookingIn(Schema):
    """Book one occurrence; devices default to the pupil's assigned robot and tablet."""

    lesson_id: str = Field(min_length=1, max_length=32)
    date: date
    classroom_device_id: str | None = Field(default=None, max_length=32)
    pupil_device_id: str | None = Field(default=None, max_length=32)


class BulkBookingIn(Schema):
    """Book every occurrence of some subjects (empty: all) in a date range."""

    subjects: list[str] = Field(default_factory=list, max_length=50)
    from_: date = Field(alias="from")
    to: date
    classroom_device_id: str | None = Field(default=None, max_length=32)
    pupil_device_id: str | None = Field(default=None, max_length=32)


class SkippedOut(BaseModel):
    """An occurrence a bulk booking left alone, and why."""

    lesson_id: str
    date: date
    start_local: str
    subject: str
    reasons: list[str]


class BulkBookingOut(BaseModel):
    """What a bulk booking booked and skipped."""

    booked: list[BookingOut]
    skipped: list[SkippedOut]
    closed: list[str] = Field(
        default_factory=list,
        description="days of the range the school is shut (no lessons), once per run of days",
    )


class CancelIn(Schema):
    """Why the booking is cancelled (kept with it)."""

    reason: str = Field(min_length=1, max_length=200)


class UnavailabilityIn(Schema):
    """Weekly (``weekdays`` 0=Mon..6 with local ``start``/``end``) or one-off.

    A one-off entry gives aware ``starts_at``/``ends_at`` instead.
    """

    reason: str = Field(min_length=1, max_length=200)
    weekdays: list[int] = Field(default_factory=list, max_length=7)
    start: time | None = None
    end: time | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        weekly = bool(self.weekdays) or self.start is not None or self.end is not None
        once = self.starts_at is not None or self.ends_at is not None
        if weekly == once:
            raise ValueError("give either weekdays with start and end, or starts_at and ends_at")
        return self


class UnavailabilityOut(BaseModel):
    """A stored unavailability."""

    id: str
    kind: Literal["weekly", "once"]
    reason: str
    weekdays: list[int]
    start: str | None
    end: str | None
    valid_from: date | None
    valid_to: date | None
    starts_at: datetime | None
    ends_at: datetime | None
    description: str
    cancelled_bookings: int = Field(
        default=0, description="bookings still to start in that time, cancelled when it was added"
    )


class UnwellOut(BaseModel):
    """The bookings "too unwell today" cancelled."""

    cancelled: list[BookingOut]
