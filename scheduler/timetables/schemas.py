"""Request and response models of the timetables HTTP API (calendars, imports, lessons).

Local dates are ``YYYY-MM-DD`` and local times ``HH:MM`` in the school's
zone; instants (``start``, ``end``, ``starts_at``) are UTC ISO 8601.
"""

from __future__ import annotations

from datetime import date, time
from typing import Literal

from pydantic import BaseModel, Field

from telepresence.platform.http.routing import Schema

__all__ = [
    "BellPeriodIn",
    "CalendarIn",
    "CalendarOut",
    "ImportOut",
    "ImportProblemOut",
    "ImportQuery",
    "LessonChangeOut",
    "LessonOut",
    "PeriodCodeIn",
    "PeriodCodesIn",
    "PeriodCodesOut",
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
    interval: int = Field(
        default=1,
        description="1: every week (or its A/B week); 2: every other week from valid_from's week",
    )
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


class PeriodCodeIn(Schema):
    """One of a school's own OneRoster period codes and a code it means, e.g. X1 = A:Mon:1."""

    code: str = Field(min_length=1, max_length=40)
    meaning: str = Field(
        min_length=1,
        max_length=40,
        description="a code in a shape the importer reads: Mon:1, A:Mon:1, MonA:1, Mon-1A or 1",
    )


class PeriodCodesIn(Schema):
    """A school's whole list of own period codes; PUT replaces what was there."""

    codes: list[PeriodCodeIn] = Field(default_factory=list, max_length=300)


class PeriodCodesOut(PeriodCodesIn):
    """A school's own period codes, each with what it is read as."""

    school_id: str
    read_as: dict[str, str] = Field(default_factory=dict)


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
    period_codes: dict[str, str] = Field(
        default_factory=dict, description="OneRoster: each period code met and how it was read"
    )
