"""A school calendar as staff type it in a page, read from a term-dates .ics, and in words.

The calendar page edits one line per term, closure, bell period and period
code (``Autumn 2025, 2025-09-01, 2025-12-19``; ``P1, 08:50, 09:40``;
``X1 = A:Mon:1``); this module turns those lines into a
:class:`SchoolCalendar` (or every problem, by line), a calendar back into
lines, a school's published term dates (.ics) into terms and closures, and a
calendar into the sentences that let staff check it ("Week A starts Mon 1
Sep"). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import icalendar

from scheduler.timetables.calendar import (
    BellPeriod,
    CalendarError,
    Closure,
    SchoolCalendar,
    Term,
    WeekCycle,
    WeekLetter,
    monday_of,
)
from scheduler.timetables.imports.common import parse_clock, parse_date, parse_week

__all__ = [
    "CalendarText",
    "calendar_lines",
    "implications",
    "parse_calendar_text",
    "period_code_pairs",
    "term_dates_from_ics",
]

_CLOSURE_WORDS = ("half term", "holiday", "inset", "training", "closed", "closure", "bank")
MAX_LINES = 300


@dataclass(slots=True)
class CalendarText:
    """The page's fields: one entry a line (``week_a_monday`` a date or empty)."""

    terms: str = ""
    closures: str = ""
    week_a_monday: str = ""
    week_overrides: str = ""
    bell_times: str = ""
    period_codes: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _fmt(day: date) -> str:
    return day.isoformat()


def calendar_lines(calendar: SchoolCalendar) -> CalendarText:
    """The calendar as the page shows it for editing."""
    cycle = calendar.week_cycle
    return CalendarText(
        terms="\n".join(f"{t.name}, {_fmt(t.start)}, {_fmt(t.end)}" for t in calendar.terms),
        closures="\n".join(f"{c.name}, {_fmt(c.start)}, {_fmt(c.end)}" for c in calendar.closures),
        week_a_monday=_fmt(cycle.reference_monday) if cycle else "",
        week_overrides="\n".join(
            f"{_fmt(day)} = {letter}" for day, letter in sorted(cycle.overrides.items())
        )
        if cycle
        else "",
        bell_times="\n".join(
            f"{b.name}, {b.start:%H:%M}, {b.end:%H:%M}" for b in calendar.bell_times
        ),
        period_codes="\n".join(f"{code} = {meaning}" for code, meaning in calendar.period_codes),
    )


def _lines(text: str, what: str, problems: list[str]) -> list[tuple[int, list[str]]]:
    rows = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(rows) > MAX_LINES:
        problems.append(f"{what}: more than {MAX_LINES} lines")
        return []
    return [(n, [cell.strip() for cell in line.rsplit(",", 2)]) for n, line in rows]


def _spans(text: str, what: str, problems: list[str]) -> list[tuple[str, date, date]]:
    spans = []
    for n, cells in _lines(text, what, problems):
        if len(cells) != 3 or not cells[0]:
            problems.append(f"{what}, line {n}: write name, first day, last day")
            continue
        try:
            spans.append((cells[0][:100], parse_date(cells[1]), parse_date(cells[2])))
        except ValueError as exc:
            problems.append(f"{what}, line {n}: {exc}")
    return spans


def _bells(text: str, problems: list[str]) -> list[BellPeriod]:
    bells = []
    for n, cells in _lines(text, "Bell times", problems):
        try:
            if len(cells) != 3 or not cells[0]:
                raise ValueError("write period, start, end (e.g. P1, 08:50, 09:40)")
            bells.append(BellPeriod(cells[0][:40], parse_clock(cells[1]), parse_clock(cells[2])))
        except ValueError as exc:  # CalendarError is a ValueError
            problems.append(f"Bell times, line {n}: {exc}")
    return bells


def _overrides(text: str, problems: list[str]) -> dict[date, WeekLetter]:
    found: dict[date, WeekLetter] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        day, _, letter = line.partition("=")
        try:
            week = parse_week(letter)
            if week is None:
                raise ValueError("say A or B")
            found[parse_date(day)] = week
        except ValueError as exc:
            problems.append(f"Week overrides, line {n}: {exc} (e.g. 2025-11-03 = A)")
    return found


def period_code_pairs(text: str, problems: list[str]) -> list[tuple[str, str]]:
    """``code = meaning`` lines as pairs; a line without ``=`` is a problem."""
    pairs = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        code, sep, meaning = line.partition("=")
        if not sep or not code.strip() or not meaning.strip():
            problems.append(f"Period codes, line {n}: write code = meaning (e.g. X1 = A:Mon:1)")
            continue
        pairs.append((code.strip()[:40], meaning.strip()[:40]))
    return pairs


def parse_calendar_text(
    text: CalendarText, *, timezone: str, school_weekdays: Iterable[int]
) -> SchoolCalendar | None:
    """The calendar the fields describe, or None with ``text.problems`` filled in."""
    problems = text.problems
    terms = _spans(text.terms, "Terms", problems)
    closures = _spans(text.closures, "Closures", problems)
    bells = _bells(text.bell_times, problems)
    cycle = None
    overrides = _overrides(text.week_overrides, problems)
    if text.week_a_monday.strip():
        try:
            cycle = WeekCycle(monday_of(parse_date(text.week_a_monday)), overrides)
        except ValueError as exc:
            problems.append(f"Week A: {exc}")
    elif overrides:
        problems.append("Week overrides need the Monday of a week A.")
    if problems:
        return None
    try:
        return SchoolCalendar(
            timezone=timezone,
            terms=tuple(Term(*span) for span in terms),
            closures=tuple(Closure(*span) for span in closures),
            week_cycle=cycle,
            bell_times=tuple(bells),
            school_weekdays=frozenset(school_weekdays),
        )
    except CalendarError as exc:
        problems.append(str(exc)[:1].upper() + str(exc)[1:])
        return None


def _day(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def term_dates_from_ics(data: bytes, text: CalendarText) -> CalendarText:
    """``text`` with its terms and closures replaced by those of a term-dates .ics.

    An event whose summary says half term, holiday, INSET, training, closed or
    bank holiday is a closure; one that says term is a term; others are
    listed in ``notes`` as ignored. All-day ends are exclusive in
    iCalendar, so the last day is the day before ``DTEND``.
    """
    try:
        cal = icalendar.Calendar.from_ical(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        text.problems.append(f"The term dates file is not an iCalendar file ({exc}).")
        return text
    terms: list[str] = []
    closures: list[str] = []
    for event in cal.walk("VEVENT")[:MAX_LINES]:
        name = " ".join(str(event.get("SUMMARY", "")).split())[:100].replace(",", " ")
        dtstart = event.decoded("DTSTART", None)
        start, end = _day(dtstart), _day(event.decoded("DTEND", None))
        if start is None or not name:
            continue
        if end is None or isinstance(dtstart, datetime):
            last = max(start, end or start)
        else:
            last = max(start, end - timedelta(days=1))  # an all-day DTEND is exclusive
        line = f"{name}, {_fmt(start)}, {_fmt(last)}"
        lowered = name.lower()
        if any(word in lowered for word in _CLOSURE_WORDS):
            closures.append(line)
        elif "term" in lowered:
            terms.append(line)
        else:
            text.notes.append(f"Ignored {name!r}: neither a term nor a closure.")
    text.terms = "\n".join(sorted(terms, key=lambda line: line.rsplit(",", 2)[1]))
    text.closures = "\n".join(sorted(closures, key=lambda line: line.rsplit(",", 2)[1]))
    return text


def _span(start: date, end: date) -> str:
    if start == end:
        return f"{start:%a} {start.day} {start:%b}"
    if start.month == end.month:
        return f"{start:%a} {start.day} to {end:%a} {end.day} {end:%b}"
    return f"{start:%a} {start.day} {start:%b} to {end:%a} {end.day} {end:%b}"


def implications(calendar: SchoolCalendar) -> list[str]:
    """What the calendar implies, in sentences staff can check against the school's letter."""
    said: list[str] = []
    for term in calendar.terms:
        days = sum(
            calendar.is_school_day(term.start + timedelta(days=n))
            for n in range((term.end - term.start).days + 1)
        )
        first = next(
            (term.start + timedelta(days=n) for n in range(14)
             if calendar.is_school_day(term.start + timedelta(days=n))),
            term.start,
        )  # fmt: skip
        week = ""
        if calendar.week_cycle is not None:
            week = f"; it starts in week {calendar.week_of(first)}"
        said.append(f"{term.name}: {_span(term.start, term.end)} {term.end.year}, "
                    f"{days} school days{week}.")  # fmt: skip
        if calendar.week_cycle is not None:
            monday = monday_of(first)
            week_a = monday if calendar.week_of(monday) == "A" else monday + timedelta(days=7)
            said.append(f"Week A starts Mon {week_a.day} {week_a:%b} {week_a.year}.")
    for closure in calendar.closures:
        said.append(f"{closure.name}: {_span(closure.start, closure.end)} {closure.end.year}.")
    if not calendar.terms:
        said.append("No terms yet: every weekday outside closures counts as a school day.")
    if not calendar.bell_times:
        said.append("No bell times yet: CSV periods and OneRoster codes cannot be read.")
    return said
