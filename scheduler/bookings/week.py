"""A pupil's week laid out as a timetable grid: school days across, lesson times down.

Pure: takes the occurrences a service already loaded and the school's
calendar, returns plain dataclasses a page renders. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from scheduler.bookings.domain import OccurrenceView
from scheduler.timetables.calendar import SchoolCalendar, WeekLetter, monday_of

__all__ = ["DayColumn", "TimeRow", "WeekGrid", "week_grid"]


@dataclass(frozen=True, slots=True)
class DayColumn:
    """One day of the grid; ``closed`` says why no lesson takes place (``None`` when open)."""

    day: date
    closed: str | None


@dataclass(frozen=True, slots=True)
class TimeRow:
    """One lesson time (local) with, per day column, the occurrences at that time."""

    start: time
    end: time
    label: str
    cells: tuple[tuple[OccurrenceView[Any], ...], ...]


@dataclass(frozen=True, slots=True)
class WeekGrid:
    """The week starting ``monday``: its A/B letter (if any), day columns and time rows."""

    monday: date
    week: WeekLetter | None
    days: tuple[DayColumn, ...]
    rows: tuple[TimeRow, ...]

    @property
    def previous(self) -> date:
        """The Monday of the week before."""
        return self.monday - timedelta(days=7)

    @property
    def next(self) -> date:
        """The Monday of the week after."""
        return self.monday + timedelta(days=7)

    @property
    def sunday(self) -> date:
        """The last day of the week."""
        return self.monday + timedelta(days=6)


def _closed(calendar: SchoolCalendar, day: date) -> str | None:
    closure = calendar.closure_on(day)
    if closure is not None:
        return f"Closed: {closure.name}"
    if not calendar.in_term(day):
        return "Closed: school holiday"
    if day.weekday() not in calendar.school_weekdays:
        return "Not a school day"
    return None


def week_grid(views: list[OccurrenceView[Any]], calendar: SchoolCalendar, day: date) -> WeekGrid:
    """The grid of the week containing ``day``.

    Columns are the school's weekdays (plus any other day that has a lesson);
    rows are the bell periods plus any other lesson time, in start order.
    ``views`` must be the occurrences of that week.
    """
    monday = monday_of(day)
    week_days = [monday + timedelta(days=n) for n in range(7)]
    with_lessons = {v.occurrence.date for v in views}
    days = [d for d in week_days if d.weekday() in calendar.school_weekdays or d in with_lessons]
    by_slot: dict[tuple[time, time], dict[date, list[OccurrenceView[Any]]]] = {}
    labels: dict[tuple[time, time], str] = {}
    for bell in calendar.bell_times:
        labels[(bell.start, bell.end)] = bell.name
        by_slot.setdefault((bell.start, bell.end), {})  # every bell period gets a row
    for view in views:
        slot = (view.occurrence.start_local, view.occurrence.end_local)
        by_slot.setdefault(slot, {}).setdefault(view.occurrence.date, []).append(view)
    rows = tuple(
        TimeRow(
            start=start,
            end=end,
            label=labels.get((start, end), ""),
            cells=tuple(tuple(by_slot[(start, end)].get(d, ())) for d in days),
        )
        for start, end in sorted(by_slot)
    )
    letter = calendar.week_cycle.week_of(monday) if calendar.week_cycle else None
    return WeekGrid(
        monday=monday,
        week=letter,
        days=tuple(DayColumn(d, _closed(calendar, d)) for d in days),
        rows=rows,
    )
