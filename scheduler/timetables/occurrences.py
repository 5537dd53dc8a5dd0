"""Lessons of a pupil's mainstream timetable and their dated occurrences.

Time-zone policy (deliberate, see docs/timetable-formats.md): a lesson is a
*local wall-clock* time in the school's zone, so an 08:50 lesson is 08:50 on
both sides of a clock change. A local time that does not exist (skipped by a
spring-forward change) is placed with the offset in force *before* the change
(zoneinfo ``fold=0``), i.e. it lands as many minutes after the change as it
was meant to be after the hour, and an ambiguous local time (repeated by a
fall-back change) is taken at its *first* occurrence (``fold=0``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta

from scheduler.timetables.calendar import (
    CalendarError,
    SchoolCalendar,
    WeekLetter,
    is_week_letter,
    monday_of,
)

__all__ = [
    "Lesson",
    "LessonChange",
    "Occurrence",
    "TimetableDiff",
    "diff_timetables",
    "expand",
    "lesson_key",
]

_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def lesson_key(
    week: WeekLetter | None,
    weekday: int,
    start: time,
    valid_from: date | None,
    interval: int = 1,
) -> str:
    """The stable key of a timetable slot, e.g. ``"A-mon-0850"`` or ``"*-tue-1330@2025-01-06"``.

    A lesson every other week counted from its own first date (an iCalendar
    ``INTERVAL=2``) is ``"2w-thu-0950@2025-01-09"``.

    It names *when* a lesson is, not *what* it is, so re-importing a timetable
    whose teacher or room changed reports a change, not a removal plus an
    addition. Two lessons cannot share a slot (overlaps are rejected on import).
    """
    slot = f"{'2w' if interval == 2 else week or '*'}-{_WEEKDAY_NAMES[weekday]}-{start:%H%M}"
    return slot if valid_from is None else f"{slot}@{valid_from.isoformat()}"


@dataclass(frozen=True, slots=True)
class Lesson:
    """One recurring entry of a pupil's timetable, in the school's local time.

    ``weekday`` is 0 (Monday) .. 6 (Sunday); ``week`` is ``"A"``, ``"B"`` or
    ``None`` for every week; ``valid_from``/``valid_to`` are inclusive and
    optional. ``interval`` 2 means every other week counted from the week of
    ``valid_from`` (an iCalendar ``INTERVAL=2``, complete without the school's
    A/B cycle; ``week`` is then ``None``). ``excluded_dates`` drop single
    dates (iCalendar EXDATE); ``extra_dates`` add single dates regardless of
    weekday and week (RDATE).
    Raises ``ValueError`` when the fields contradict each other.
    """

    subject: str
    weekday: int
    start: time
    end: time
    class_group: str = ""
    teacher: str = ""
    room: str = ""
    week: WeekLetter | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    excluded_dates: frozenset[date] = frozenset()
    extra_dates: frozenset[date] = frozenset()
    interval: int = 1
    # The slot key, formatted once: imports and expansion ask for it per row and occurrence.
    _key: str = field(init=False, repr=False, compare=False, hash=False, default="")

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) .. 6 (Sunday), not {self.weekday}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("lesson times are naive local wall-clock times")
        if self.start >= self.end:
            raise ValueError(f"lesson must end after it starts ({self.start:%H:%M})")
        if self.week is not None and not is_week_letter(self.week):
            raise ValueError(f"week must be 'A', 'B' or None, not {self.week!r}")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        if not self.subject.strip():
            raise ValueError("a lesson needs a subject")
        if self.interval not in (1, 2):
            raise ValueError(f"interval must be 1 or 2 weeks, not {self.interval}")
        if self.interval == 2 and (self.valid_from is None or self.week is not None):
            raise ValueError("a lesson every other week needs valid_from and no week letter")
        key = lesson_key(self.week, self.weekday, self.start, self.valid_from, self.interval)
        object.__setattr__(self, "_key", key)

    @property
    def key(self) -> str:
        """The stable slot key (see :func:`lesson_key`)."""
        return self._key

    def is_valid_on(self, day: date) -> bool:
        """True when ``day`` lies inside the lesson's validity window."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )

    def recurs_on(self, day: date, week: WeekLetter | None) -> bool:
        """True when the weekly rule (not extra dates) gives ``day``, a day of week ``week``."""
        return (
            day.weekday() == self.weekday
            and (self.week is None or self.week == week)
            and self.is_valid_on(day)
            and day not in self.excluded_dates
            and (self.interval == 1 or self._in_its_fortnight(day))
        )

    def _in_its_fortnight(self, day: date) -> bool:
        first = monday_of(self.valid_from or day)
        return (monday_of(day) - first).days % 14 == 0


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One dated instance of a lesson.

    ``start_local``/``end_local`` are the timetable's wall-clock times in the
    school's zone; ``start``/``end`` are the matching aware UTC instants.
    ``week`` is the letter of that week, or ``None`` without an A/B cycle.
    """

    lesson_key: str
    date: date
    start_local: time
    end_local: time
    start: datetime
    end: datetime
    week: WeekLetter | None


def _check_cycle(lessons: Sequence[Lesson], calendar: SchoolCalendar) -> None:
    if calendar.week_cycle is None and any(lesson.week for lesson in lessons):
        raise CalendarError("lessons use A/B weeks but the school has no A/B week cycle")


def _extra_dates(lessons: Sequence[Lesson], first: date, last: date) -> dict[date, list[Lesson]]:
    extras: dict[date, list[Lesson]] = defaultdict(list)
    for lesson in lessons:
        for day in lesson.extra_dates:
            if first <= day <= last:
                extras[day].append(lesson)
    return extras


def expand(
    lessons: Iterable[Lesson], calendar: SchoolCalendar, from_date: date, to_date: date
) -> list[Occurrence]:
    """Every occurrence of ``lessons`` on school days from ``from_date`` to ``to_date`` inclusive.

    Skips days outside terms, closures and non-school weekdays (also for extra
    dates), respects A/B weeks, validity windows and excluded dates. The
    result is sorted by UTC start, then lesson key. Raises ``CalendarError``
    when lessons use A/B weeks and the calendar has none. Work is per school
    day plus per occurrence, with no per-occurrence zone lookups.
    """
    lessons = list(lessons)
    _check_cycle(lessons, calendar)
    by_weekday: dict[int, list[Lesson]] = defaultdict(list)
    for lesson in sorted(lessons, key=lambda lsn: (lsn.start, lsn.key)):
        by_weekday[lesson.weekday].append(lesson)
    extras = _extra_dates(lessons, from_date, to_date)
    cycle = calendar.week_cycle
    result: list[Occurrence] = []
    day = from_date
    one_day = timedelta(days=1)
    while day <= to_date:
        todays = by_weekday.get(day.weekday(), [])
        extra = extras.get(day, [])
        if (todays or extra) and calendar.is_school_day(day):
            week = cycle.week_of(day) if cycle is not None else None
            occurrences = [
                _occurrence(lesson, day, week, calendar)
                for lesson in _due(todays, extra, day, week)
            ]
            # Lessons are in (local start, key) order, which is UTC order except on a day
            # with extra dates or a clock change (a skipped hour can reorder instants).
            if extra or calendar.changes_offset_on(day):
                occurrences.sort(key=_utc_order)
            result.extend(occurrences)
        day += one_day
    return result


def _due(
    todays: list[Lesson], extra: list[Lesson], day: date, week: WeekLetter | None
) -> list[Lesson]:
    """Lessons taking place on school day ``day``; an excluded date beats an extra one."""
    due = [lesson for lesson in todays if lesson.recurs_on(day, week)]
    for lesson in extra:
        if day not in lesson.excluded_dates and lesson not in due:
            due.append(lesson)
    return due


def _utc_order(occ: Occurrence) -> tuple[datetime, str]:
    return occ.start, occ.lesson_key


def _occurrence(
    lesson: Lesson, day: date, week: WeekLetter | None, calendar: SchoolCalendar
) -> Occurrence:
    return Occurrence(
        lesson_key=lesson._key,
        date=day,
        start_local=lesson.start,
        end_local=lesson.end,
        start=calendar.to_utc(day, lesson.start),
        end=calendar.to_utc(day, lesson.end),
        week=week,
    )


@dataclass(frozen=True, slots=True)
class LessonChange:
    """A lesson whose slot stayed but whose details changed; ``fields`` names them."""

    old: Lesson
    new: Lesson
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TimetableDiff:
    """What re-importing a timetable would do, each part sorted by lesson key."""

    added: tuple[Lesson, ...]
    changed: tuple[LessonChange, ...]
    removed: tuple[Lesson, ...]
    unchanged: tuple[Lesson, ...]

    @property
    def is_empty(self) -> bool:
        """True when applying the new timetable would change nothing."""
        return not (self.added or self.changed or self.removed)


_COMPARED_FIELDS = tuple(f.name for f in fields(Lesson) if not f.name.startswith("_"))


def diff_timetables(old_lessons: Iterable[Lesson], new_lessons: Iterable[Lesson]) -> TimetableDiff:
    """Compare two timetables by lesson key.

    Raises ``ValueError`` if either side holds two lessons with the same key
    (importers never produce that).
    """
    old = _by_key(old_lessons, "old")
    new = _by_key(new_lessons, "new")
    changed: list[LessonChange] = []
    unchanged: list[Lesson] = []
    for key in sorted(old.keys() & new.keys()):
        before, after = old[key], new[key]
        differing = tuple(
            name for name in _COMPARED_FIELDS if getattr(before, name) != getattr(after, name)
        )
        if differing:
            changed.append(LessonChange(old=before, new=after, fields=differing))
        else:
            unchanged.append(after)
    return TimetableDiff(
        added=tuple(new[key] for key in sorted(new.keys() - old.keys())),
        changed=tuple(changed),
        removed=tuple(old[key] for key in sorted(old.keys() - new.keys())),
        unchanged=tuple(unchanged),
    )


def _by_key(lessons: Iterable[Lesson], side: str) -> dict[str, Lesson]:
    keyed: dict[str, Lesson] = {}
    for lesson in lessons:
        if lesson.key in keyed:
            raise ValueError(f"two {side} lessons share the key {lesson.key!r}")
        keyed[lesson.key] = lesson
    return keyed
