"""The date range of a dashboard or report, from its filter form: this term, the last four
weeks, or from-to. Pure: the calendar and today are passed in."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from scheduler.timetables.calendar import SchoolCalendar
from telepresence.engagement.domain import last_four_weeks
from telepresence.platform.errors import InvalidInput

__all__ = ["MAX_SPAN", "Period", "Range", "parse_range", "term_of"]

MAX_SPAN = timedelta(days=731)
# Without term dates, English school terms start about here (month, day).
TERM_STARTS = ((9, 1), (4, 15), (1, 1))


class Period(enum.StrEnum):
    """The choices of the filter form."""

    TERM = "term"
    WEEKS = "4w"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class Range:
    """Local lesson dates, both ends inclusive, and how they were chosen."""

    period: Period
    start: date
    end: date
    school_id: str | None = None
    pupil_id: str | None = None

    def dates(self) -> str:
        """The period alone as a query string (for a page that is already one school's or
        one pupil's)."""
        return f"period={self.period.value}&start={self.start}&end={self.end}"

    def query(self) -> str:
        """The whole filter as a query string, to link to the same figures elsewhere."""
        text = self.dates() + (f"&school={self.school_id}" if self.school_id else "")
        return text + (f"&pupil={self.pupil_id}" if self.pupil_id else "")


def term_of(calendar: SchoolCalendar | None, today: date) -> tuple[date, date]:
    """This term, up to today: the calendar's term containing today (or the last one begun);
    without term dates, since the last 1 September, 1 January or 15 April."""
    terms = sorted(calendar.terms if calendar else (), key=lambda t: t.start)
    begun = [t for t in terms if t.start <= today]
    if begun:
        return begun[-1].start, min(begun[-1].end, today)
    for month, day in TERM_STARTS:
        start = date(today.year, month, day)
        if start <= today:
            return start, today
    return date(today.year - 1, 9, 1), today  # pragma: no cover - 1 January always matched


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{text[:40]!r} is not a date; use the date picker or YYYY-MM-DD.",
            errors=[{"field": field, "message": "not a date"}],
        ) from None


def parse_range(
    form: Mapping[str, str],
    today: date,
    calendar: SchoolCalendar | None,
    default: Period = Period.WEEKS,
) -> Range:
    """The range the form asks for; ``InvalidInput`` for a reversed, absurd (over two years)
    or unreadable one. A custom range without an end ends today."""
    try:
        period = Period(form.get("period") or default)
    except ValueError:
        raise InvalidInput(
            "Choose this term, the last 4 weeks or your own dates.",
            errors=[{"field": "period", "message": "unknown period"}],
        ) from None
    school = (form.get("school") or "").strip()[:32] or None
    pupil = (form.get("pupil") or "").strip()[:32] or None
    if period is Period.TERM:
        start, end = term_of(calendar, today)
    elif period is Period.WEEKS:
        start, end = last_four_weeks(today), today
    else:
        end = _day(form["end"], "end") if form.get("end") else today
        start = _day(form["start"], "start") if form.get("start") else last_four_weeks(end)
    if end < start:
        raise InvalidInput(
            f"The range ends ({end:%d %b %Y}) before it starts ({start:%d %b %Y}).",
            errors=[{"field": "end", "message": "before the start"}],
        )
    if end - start > MAX_SPAN:
        raise InvalidInput(
            "The range is longer than two years; choose a shorter one.",
            errors=[{"field": "start", "message": "more than two years"}],
        )
    return Range(period, start, end, school, pupil)
