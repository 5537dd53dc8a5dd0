"""Request and response models of the engagement API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, model_validator

from telepresence.engagement.domain import last_four_weeks
from telepresence.platform.http.routing import Schema

__all__ = [
    "AlertNote",
    "AlertOut",
    "AlertQuery",
    "CountsOut",
    "DeviceOut",
    "MyWeekOut",
    "OutcomeOut",
    "PupilEngagementOut",
    "RangeQuery",
    "SummaryOut",
]

MAX_SPAN = timedelta(days=731)


class RangeQuery(Schema):
    """A date range (local lesson dates, both ends inclusive; default the last four weeks:
    from the Monday three weeks before the end's week),
    optionally one school or pupil."""

    start: date | None = None
    end: date | None = None
    school_id: str | None = Field(default=None, max_length=32)
    pupil_id: str | None = Field(default=None, max_length=32)

    @model_validator(mode="after")
    def _sane(self) -> Self:
        if self.start and self.end and self.end < self.start:
            raise ValueError("the range ends before it starts: 'end' must not be before 'start'")
        if self.start and self.end and self.end - self.start > MAX_SPAN:
            raise ValueError("the range is longer than two years; ask for a shorter one")
        return self

    def dates(self, today: date) -> tuple[date, date]:
        """The range with defaults filled in (re-checked: a lone ``start`` may be absurd)."""
        end = self.end or today
        start = self.start or last_four_weeks(end)
        if end < start:
            raise ValueError("the range ends before it starts")
        if end - start > MAX_SPAN:
            raise ValueError("the range is longer than two years; ask for a shorter one")
        return start, end


class OutcomeOut(BaseModel):
    """A past lesson and what it gave the pupil."""

    booking_id: str
    pupil_id: str
    subject: str
    lesson_date: date
    starts_at: datetime
    outcome: str
    reason: str | None
    description: str
    booked_minutes: int
    present_minutes: int
    first_join: datetime | None
    last_leave: datetime | None
    gaps: int
    reconnects: int
    hands_raised: int
    camera_minutes: int
    quality: str
    move_id: str | None


class CountsOut(BaseModel):
    """Lessons and minutes of one group (week, subject, school, pupil)."""

    key: str
    booked: int
    joined: int
    attended: int
    partial: int
    missed: int
    cancelled: int
    minutes: int
    booked_minutes: int
    share: float | None
    trend: float | None = None


class PupilEngagementOut(BaseModel):
    """One pupil's engagement over a range: per school week (with trend) and per subject."""

    pupil_id: str
    name: str
    start: date
    end: date
    total: CountsOut
    weeks: list[CountsOut]
    subjects: list[CountsOut]


class DeviceOut(BaseModel):
    """A robot's use over the range."""

    device_id: str
    name: str
    school_id: str | None
    lessons: int
    minutes: int
    utilisation: float | None
    last_used: date | None
    unused_school_days: int


class SummaryOut(BaseModel):
    """The coordinator's figures: pupils, schools, devices, move punctuality, open alerts."""

    start: date
    end: date
    provider: CountsOut
    pupils: list[CountsOut]
    schools: list[CountsOut]
    devices: list[DeviceOut]
    moves: dict[str, dict[str, int]]
    open_alerts: int


class AlertQuery(Schema):
    """Which alerts: by status (default the unresolved ones)."""

    status: Literal["open", "acknowledged", "resolved", "unresolved", "all"] = "unresolved"
    pupil_id: str | None = Field(default=None, max_length=32)
    limit: int = Field(default=100, ge=1, le=500)


class AlertNote(Schema):
    """A note on acknowledging (optional) or resolving (say what was done)."""

    note: str = Field(default="", max_length=2000)


class AlertOut(BaseModel):
    """A disengagement alert and the figures behind it."""

    id: str
    pupil_id: str
    pupil_name: str
    rule: str
    subject: str = Field(
        "",
        description="What an operational alert is about: `move:<id>`, `device:<id>` or "
        "`day:<local date>` (one open per pupil, rule and subject); empty for the "
        "disengagement rules (one open per pupil and rule).",
    )
    status: str
    summary: str
    figures: dict[str, Any]
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    note: str


class MyWeekOut(BaseModel):
    """The pupil's own week, in friendly words for the tablet."""

    joined: int
    booked: int
    minutes: int
    text: str
