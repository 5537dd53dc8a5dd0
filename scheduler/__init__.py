"""Timetables and their import, occurrences, bookings and moves."""

from scheduler.calendar import (
    BellPeriod,
    CalendarError,
    Closure,
    SchoolCalendar,
    Term,
    WeekCycle,
    WeekLetter,
    is_school_day,
    week_of,
)
from scheduler.occurrences import (
    Lesson,
    LessonChange,
    Occurrence,
    TimetableDiff,
    diff_timetables,
    expand,
    lesson_key,
)

__all__ = [
    "BellPeriod",
    "CalendarError",
    "Closure",
    "Lesson",
    "LessonChange",
    "Occurrence",
    "SchoolCalendar",
    "Term",
    "TimetableDiff",
    "WeekCycle",
    "WeekLetter",
    "diff_timetables",
    "expand",
    "is_school_day",
    "lesson_key",
    "week_of",
]
