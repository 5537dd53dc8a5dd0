"""Expanding a whole term of lessons into occurrences, for 5,000 pupils.

Run from the repository root with the project's venv, no arguments needed::

    .venv/bin/python bench/occurrences.py
    .venv/bin/python bench/occurrences.py --pupils 500 --repeats 3

Each pupil has the demo's realistic timetable (25 lessons a week, some
alternating A/B), at a school with the demo's calendar: the autumn term
2026 (INSET day, October half term, A/B weeks restarted after half term, and
the clocks going back on 25 October inside the term). Timed:

- **expand**: ``scheduler.timetables.occurrences.expand`` of each pupil's lessons over the
  term (the product's path: zone, closures, week letters, validity);
- **baseline**, in the same run: a plain loop over the term's dates that emits
  the *same* occurrences from a precomputed, untimed plan of which lessons fall
  on which date and each date's UTC offset: no zone, closure or week logic, the
  floor any implementation pays to build the objects;
- **single**: the median time to expand one pupil's term with a freshly loaded
  calendar (as one request does: no conversions remembered from other pupils).

Both outputs are checked equal before anything is reported. The last line
printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scheduler.timetables.calendar import SchoolCalendar
from scheduler.timetables.imports import import_csv
from scheduler.timetables.occurrences import Lesson, Occurrence, expand
from telepresence.demo_timetables import demo_calendar, demo_timetable_csv

TODAY = date(2026, 11, 25)
GOAL_RATIO = 3.0
GOAL_SINGLE_MS = 5.0


def timetables(pupils: int, calendar: SchoolCalendar) -> list[list[Lesson]]:
    """Each pupil's lessons, through the real CSV importer (untimed); 14 distinct patterns."""
    patterns = [
        list(import_csv(demo_timetable_csv(i, i % 2, "Year 9"), calendar=calendar).lessons)
        for i in range(14)
    ]
    return [patterns[i % len(patterns)] for i in range(pupils)]


def plan(calendar: SchoolCalendar, first: date, last: date) -> list[tuple[date, str, timedelta]]:
    """(date, week letter, UTC offset) of each school day: the baseline's untimed input."""
    days = []
    day = first
    while day <= last:
        if calendar.is_school_day(day):
            noon = datetime.combine(day, datetime.min.time(), calendar.zone).replace(hour=12)
            offset = noon.utcoffset() or timedelta(0)
            days.append((day, calendar.week_of(day), offset))
        day += timedelta(days=1)
    return days


def baseline(lessons: list[Lesson], days: list[tuple[date, str, timedelta]]) -> list[Occurrence]:
    """The same occurrences from the precomputed plan, with plain datetime arithmetic."""
    by_day: dict[tuple[int, str], list[tuple[Lesson, str]]] = {}
    for weekday in range(5):
        for letter in ("A", "B"):
            due = [
                (lsn, lsn.key)
                for lsn in lessons
                if lsn.weekday == weekday and lsn.week in (None, letter)
            ]
            by_day[(weekday, letter)] = sorted(due, key=lambda item: item[0].start)
    out = []
    for day, letter, offset in days:
        for lesson, key in by_day[(day.weekday(), letter)]:
            start = datetime.combine(day, lesson.start, UTC) - offset
            end = datetime.combine(day, lesson.end, UTC) - offset
            out.append(Occurrence(key, day, lesson.start, lesson.end, start, end, letter))  # type: ignore[arg-type]
    return out


def timed(fn: Callable[[], object]) -> float:
    """One wall-clock run of ``fn``, in seconds, with the garbage collector off."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        fn()
        return time.perf_counter() - started
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    calendar = demo_calendar(TODAY)
    term = calendar.terms[0]
    pupils = timetables(args.pupils, calendar)
    days = plan(calendar, term.start, term.end)

    real = [expand(lessons, calendar, term.start, term.end) for lessons in pupils[:20]]
    floor = [baseline(lessons, days) for lessons in pupils[:20]]
    assert real == floor, "the baseline must emit exactly the product's occurrences"
    count = sum(len(expand(lessons, calendar, term.start, term.end)) for lessons in pupils)

    # Alternate the two, so that a busy neighbour on a shared machine slows both alike.
    product = plain = float("inf")
    for _ in range(args.repeats):
        product = min(
            product, timed(lambda: [expand(p, calendar, term.start, term.end) for p in pupils])
        )
        plain = min(plain, timed(lambda: [baseline(p, days) for p in pupils]))
    singles = []
    for lessons in pupils[:200]:
        fresh = demo_calendar(TODAY)  # as a request loads it: nothing remembered yet
        started = time.perf_counter()
        expand(lessons, fresh, term.start, term.end)
        singles.append((time.perf_counter() - started) * 1000)
    single_ms = statistics.median(singles)
    ratio = product / plain
    print(f"term {term.start} .. {term.end}: {len(days)} school days, {count:,} occurrences")
    print(f"expand   {product:8.3f} s  ({count / product:,.0f} occurrences/s)")
    print(f"baseline {plain:8.3f} s")
    print(f"one pupil's term: median {single_ms:.2f} ms")
    result = {
        "bench": "occurrences",
        "value": round(product, 3),
        "baseline": round(plain, 3),
        "ratio": round(ratio, 2),
        "goal": f"<={GOAL_RATIO:g}",
        "met": ratio <= GOAL_RATIO and single_ms < GOAL_SINGLE_MS,
        "unit": "s",
        "pupils": args.pupils,
        "occurrences": count,
        "single_pupil_term_ms": round(single_ms, 3),
        "single_goal_ms": GOAL_SINGLE_MS,
        "python": platform.python_version(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
