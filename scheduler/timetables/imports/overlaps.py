"""Clash checks inside one import, on dated occurrences rather than weekly slots.

A pupil is in one lesson at a time, so two lessons of one import that take
place on the same *date* at intersecting times are a duplicate or a mistake.
Comparing weekly slots is not enough: a week-A cover lesson does not clash
with a series that runs only in week B, nor a moved instance with the series
it was taken out of.

Cost: lessons are swept per weekday in start order (O(n log n)) into groups
whose times intersect; only groups of two or more are dated. A group is dated
only in the weeks around its own dates (validity ends, excluded and extra
dates, A/B anchors): between those every rule repeats every two weeks, so two
weeks either side of each date show every clash there is. The dated
occurrences are then swept by (date, start) once more.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta

from scheduler.timetables.calendar import SchoolCalendar, WeekLetter, monday_of
from scheduler.timetables.imports.common import MAX_PROBLEMS, ImportProblem, LineLesson

__all__ = ["find_overlaps"]

_WEEK = timedelta(weeks=1)
_ANY_MONDAY = date(2001, 1, 1)  # a Monday, for timetables that name no date at all


@dataclass(frozen=True, slots=True)
class _Item:
    """A lesson's weekly rule, or one of its extra dates (``only``), on one weekday."""

    entry: LineLesson
    weekday: int
    only: date | None = None

    @property
    def start(self) -> time:
        return self.entry.lesson.start

    @property
    def end(self) -> time:
        return self.entry.lesson.end


def _items(entries: Iterable[LineLesson]) -> dict[int, list[_Item]]:
    per_day: dict[int, list[_Item]] = defaultdict(list)
    for entry in entries:
        lesson = entry.lesson
        per_day[lesson.weekday].append(_Item(entry, lesson.weekday))
        for day in lesson.extra_dates - lesson.excluded_dates:
            per_day[day.weekday()].append(_Item(entry, day.weekday(), day))
    return per_day


def _time_groups(items: list[_Item]) -> Iterator[list[_Item]]:
    """Runs of items whose times intersect transitively, in start order."""
    items.sort(key=lambda item: (item.start, item.entry.line or 0))
    group: list[_Item] = []
    group_end = time.min
    for item in items:
        if group and item.start >= group_end:
            yield group
            group = []
        group.append(item)
        group_end = max(group_end, item.end) if len(group) > 1 else item.end
    if group:
        yield group


def _week_mondays(group: list[_Item], calendar: SchoolCalendar) -> list[date]:
    marks: set[date] = set()
    for item in group:
        lesson = item.entry.lesson
        known = [lesson.valid_from, lesson.valid_to, item.only, *lesson.excluded_dates]
        marks.update(monday_of(day) for day in known if day is not None)
    if not marks:
        marks.add(_ANY_MONDAY)
    cycle = calendar.week_cycle
    if cycle is not None:
        first, last = min(marks), max(marks)
        anchors = [cycle.reference_monday, *cycle.overrides]
        marks.update(monday for monday in anchors if first <= monday <= last)
    return sorted({mark + n * _WEEK for mark in marks for n in range(-2, 3)})


def _dates(item: _Item, mondays: list[date], calendar: SchoolCalendar) -> Iterator[date]:
    if item.only is not None:
        yield item.only
        return
    lesson = item.entry.lesson
    low = bisect_left(mondays, monday_of(lesson.valid_from) if lesson.valid_from else date.min)
    high = bisect_right(mondays, lesson.valid_to or date.max)
    for monday in mondays[low:high]:
        day = monday + timedelta(days=lesson.weekday)
        if lesson.recurs_on(day, _week(calendar, day)):
            yield day


def _week(calendar: SchoolCalendar, day: date) -> WeekLetter | None:
    return calendar.week_cycle.week_of(day) if calendar.week_cycle is not None else None


def _group_clashes(
    group: list[_Item], calendar: SchoolCalendar
) -> Iterator[tuple[LineLesson, LineLesson, date]]:
    mondays = _week_mondays(group, calendar)
    dated = sorted(
        ((day, item.start, item.end, n) for n, item in enumerate(group)
         for day in _dates(item, mondays, calendar)),
        key=lambda occ: (occ[0], occ[1], occ[3]),
    )  # fmt: skip
    latest: tuple[date, time, time, int] | None = None
    for occ in dated:
        if latest is not None and latest[0] == occ[0] and occ[1] < latest[2]:
            yield group[latest[3]].entry, group[occ[3]].entry, occ[0]
        if latest is None or latest[0] != occ[0] or occ[2] > latest[2]:
            latest = occ


def find_overlaps(entries: Iterable[LineLesson], calendar: SchoolCalendar) -> list[ImportProblem]:
    """One problem per lesson that shares a date and a time with another one of the import.

    The problem names both lines and the first date they meet on (or "the
    same day and week" for a timetable without dates). Dates are every
    calendar day the rules give, closures included: a file that puts a pupil
    in two places at once is wrong even on a day the school is shut.
    """
    problems: dict[int, ImportProblem] = {}
    for items in _items(entries).values():
        for group in _time_groups(items):
            if len(group) < 2:
                continue
            for first, second, day in _group_clashes(group, calendar):
                if first is not second and id(second) not in problems:
                    problems[id(second)] = _overlap_problem(first, second, day)
            if len(problems) >= MAX_PROBLEMS:
                break
    return sorted(problems.values(), key=lambda p: (p.file, p.line or 0))


def _overlap_problem(first: LineLesson, second: LineLesson, day: date) -> ImportProblem:
    earlier, later = sorted((first, second), key=lambda e: (e.file, e.line or 0))
    where = f"line {earlier.line}" if earlier.line is not None else "another entry"
    if earlier.file != later.file:
        where = f"{earlier.file} {where}"
    a, b = earlier.lesson, later.lesson
    dated = any(
        lsn.valid_from or lsn.valid_to or lsn.extra_dates or lsn.excluded_dates for lsn in (a, b)
    )
    when = f"on {day:%a} {day.day} {day:%b %Y}" if dated else "on the same day and week"
    return ImportProblem(
        later.file,
        later.line,
        None,
        f"{b.subject} {b.start:%H:%M}-{b.end:%H:%M} overlaps {a.subject} "
        f"{a.start:%H:%M}-{a.end:%H:%M} ({where}) {when}",
    )
