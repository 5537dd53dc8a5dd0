"""Request and response models of the scheduler's HTTP API.

Local dates are ``YYYY-MM-DD`` and local times ``HH:MM`` in the school's
zone; instants (``start``, ``end``, ``starts_at``) are UTC ISO 8601.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from telepresence.platform.routing import Schema

__all__ = [
    "BellPeriodIn",
    "BookingIn",
    "BookingOut",
    "BulkBookingIn",
    "BulkBookingOut",
    "CalendarIn",
    "CalendarOut",
    "CancelIn",
    "DateRangeQuery",
    "ImportOut",
    "ImportProblemOut",
    "ImportQuery",
    "LessonChangeOut",
    "LessonOut",
    "OccurrenceOut",
    "SkippedOut",
    "UnavailabilityIn",
    "UnavailabilityOut",
    "UnwellOut",
]

Name = Field(min_length=1, max_length=100)
WeekLetterField = Literal["A", "B"]


class DatedSpanIn(Schema):
    """A named span of local dates, both ends inclusive."""

    name: str = Name
    start: date
    end: date


class WeekOverrideIn(Schema):
    """The letter of the week containing ``date`` (re-anchors the alternation from there)."""

    date: date
    week: WeekLetterField


class WeekCycleIn(Schema):
    """A two-week A/B cycle: the Monday of a week A, and hand-set weeks."""

    week_a_monday: date
    overrides: list[WeekOverrideIn] = Field(default_factory=list, max_length=200)


class BellPeriodIn(Schema):
    """A named period of the school day, local times."""

    name: str = Field(min_length=1, max_length=40)
    start: time
    end: time


class CalendarIn(Schema):
    """A school's whole calendar; PUT replaces what was there."""

    terms: list[DatedSpanIn] = Field(default_factory=list, max_length=20)
    closures: list[DatedSpanIn] = Field(default_factory=list, max_length=200)
    week_cycle: WeekCycleIn | None = None
    bell_times: list[BellPeriodIn] = Field(default_factory=list, max_length=30)
    school_weekdays: list[int] = Field(default=[0, 1, 2, 3, 4], min_length=1, max_length=7)


class CalendarOut(CalendarIn):
    """A school's calendar with its time zone."""

    school_id: str
    timezone: str
    flagged_bookings: int = 0


class ImportQuery(Schema):
    """How to read an uploaded timetable."""

    format: Literal["ical", "csv", "oneroster"] | None = None
    dry_run: bool = False
    file_name: str = Field(default="", max_length=200)
    roster_id: str | None = Field(default=None, max_length=100)


class LessonOut(BaseModel):
    """One lesson of a pupil's timetable."""

    lesson_id: str | None
    lesson_key: str
    subject: str
    class_group: str
    teacher: str
    room: str
    weekday: int
    start_local: str
    end_local: str
    week: WeekLetterField | None
    valid_from: date | None
    valid_to: date | None


class LessonChangeOut(BaseModel):
    """A lesson whose slot stayed but whose details changed."""

    lesson_key: str
    fields: list[str]
    before: LessonOut
    after: LessonOut


class ImportProblemOut(BaseModel):
    """A problem or warning about an uploaded file (``line`` is 1-based)."""

    file: str
    line: int | None
    field: str | None
    message: str


class ImportOut(BaseModel):
    """What an import did, or on a dry run would do."""

    dry_run: bool
    source_format: str
    added: list[LessonOut]
    changed: list[LessonChangeOut]
    removed: list[LessonOut]
    unchanged: int
    warnings: list[ImportProblemOut]
    flagged_bookings: int


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
    cancel_reason: str | None
    flagged_reason: str | None


class OccurrenceOut(BaseModel):
    """One dated lesson with its booking state.

    ``state``: ``booked``, ``bookable``, ``unavailable`` (see ``unavailable``)
    or ``past``.
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


class UnwellOut(BaseModel):
    """The bookings "too unwell today" cancelled."""

    cancelled: list[BookingOut]
