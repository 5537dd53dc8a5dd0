"""A home school's calendar: time zone, terms, closures, A/B weeks and bell times.

Plain frozen dataclasses and pure functions; no I/O. Dates are the school's
local dates; times are naive local wall-clock times in the school's zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Literal, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_TIMEZONE",
    "BellPeriod",
    "CalendarError",
    "Closure",
    "SchoolCalendar",
    "Term",
    "WeekCycle",
    "WeekLetter",
    "is_school_day",
    "is_week_letter",
    "monday_of",
    "week_of",
]

WeekLetter = Literal["A", "B"]
DEFAULT_TIMEZONE = "Europe/London"
_MAX_MEMO = 200_000  # (date, time) pairs remembered per calendar: years of distinct lesson times


class CalendarError(ValueError):
    """A school calendar (or something checked against it) is inconsistent."""


def is_week_letter(value: object) -> TypeGuard[WeekLetter]:
    """True when ``value`` is exactly ``"A"`` or ``"B"``."""
    return value in ("A", "B")


def monday_of(day: date) -> date:
    """The Monday of the ISO week containing ``day``."""
    return day - timedelta(days=day.weekday())


def load_zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name``; raise :class:`CalendarError` if unknown.

    ``ZoneInfo`` keeps its own cache, so repeated calls are cheap.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(f"unknown time zone {name!r}") from exc


@dataclass(frozen=True, slots=True)
class Term:
    """A teaching term, both ends inclusive."""

    name: str
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise CalendarError(f"term {self.name!r} ends ({self.end}) before it starts")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class Closure:
    """Days the school is shut inside a term (half term, bank holiday, INSET), inclusive."""

    name: str
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise CalendarError(f"closure {self.name!r} ends ({self.end}) before it starts")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class WeekCycle:
    """Two-week timetable rotation.

    ``reference_monday`` is a week A. An override names the letter of one week
    (any date in that week) *and re-anchors the alternation from that week on*,
    because schools restart or repeat a week around holidays: one override
    "week of 3 Nov is A" is enough after a half term that broke the rhythm.
    Before the reference Monday and before any override, weeks alternate
    backwards from the reference.
    """

    reference_monday: date
    overrides: Mapping[date, WeekLetter] = field(default_factory=dict, hash=False)
    _anchors: tuple[tuple[date, WeekLetter], ...] = field(
        init=False, repr=False, compare=False, default=()
    )

    def __post_init__(self) -> None:
        if self.reference_monday.weekday() != 0:
            raise CalendarError(f"reference_monday {self.reference_monday} is not a Monday")
        normalised: dict[date, WeekLetter] = {}
        for day, letter in self.overrides.items():
            if not is_week_letter(letter):
                raise CalendarError(f"week override for {day} must be 'A' or 'B', not {letter!r}")
            normalised[monday_of(day)] = letter
        object.__setattr__(self, "overrides", MappingProxyType(normalised))
        anchors = {self.reference_monday: "A", **normalised}
        object.__setattr__(self, "_anchors", tuple(sorted(anchors.items())))

    def week_of(self, day: date) -> WeekLetter:
        """The letter of the week containing ``day`` (see the class docstring)."""
        monday = monday_of(day)
        anchor_day, anchor_letter = self._anchors[0]
        for candidate, letter in self._anchors:
            if candidate > monday:
                break
            anchor_day, anchor_letter = candidate, letter
        weeks = (monday - anchor_day).days // 7
        if weeks % 2 == 0:
            return anchor_letter
        return "B" if anchor_letter == "A" else "A"


@dataclass(frozen=True, slots=True)
class BellPeriod:
    """A named period of the school day (``"P1"``, ``"Registration"``) in local time."""

    name: str
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise CalendarError("a bell period needs a name")
        if self.start >= self.end:
            raise CalendarError(f"period {self.name!r} must start before it ends")


def _period_lookup_keys(name: str) -> Iterable[str]:
    key = " ".join(name.lower().split())
    yield key
    for prefix in ("period ", "period", "p"):
        if key.startswith(prefix) and key[len(prefix) :].strip().isdigit():
            yield key[len(prefix) :].strip()


@dataclass(frozen=True, slots=True)
class SchoolCalendar:
    """Everything about a school's year that decides when a lesson takes place.

    ``school_weekdays`` uses Python's numbering (Monday 0 .. Sunday 6). With no
    terms at all, every school weekday outside closures counts as a school day
    (handy for previews before term dates are entered).
    """

    timezone: str = DEFAULT_TIMEZONE
    terms: tuple[Term, ...] = ()
    closures: tuple[Closure, ...] = ()
    week_cycle: WeekCycle | None = None
    bell_times: tuple[BellPeriod, ...] = ()
    school_weekdays: frozenset[int] = frozenset(range(5))
    # The school's own OneRoster period codes: (code in lower case, what it means in a
    # shape the importer reads, e.g. ("x1", "A:Mon:1")); see imports/period_codes.py.
    period_codes: tuple[tuple[str, str], ...] = ()
    _periods: Mapping[str, BellPeriod] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )
    # Memo of to_utc(): every pupil of a school shares the same dates and bell times.
    _utc: dict[tuple[date, time], datetime] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        load_zone(self.timezone)
        if not self.school_weekdays <= frozenset(range(7)):
            raise CalendarError("school_weekdays must be within 0 (Monday) .. 6 (Sunday)")
        periods: dict[str, BellPeriod] = {}
        for period in self.bell_times:
            key = " ".join(period.name.lower().split())
            if key in periods:
                raise CalendarError(f"bell period {period.name!r} is defined twice")
            periods[key] = period
        object.__setattr__(self, "_periods", MappingProxyType(periods))

    @property
    def zone(self) -> ZoneInfo:
        """The school's ``ZoneInfo`` (cached by ``zoneinfo``)."""
        return ZoneInfo(self.timezone)

    def to_utc(self, day: date, clock: time) -> datetime:
        """The aware UTC instant of local ``clock`` on ``day`` in the school's zone.

        A local time that does not exist (skipped by a spring-forward change)
        takes the offset in force before the change, and an ambiguous one
        (repeated by a fall-back change) its first occurrence (``fold=0``).
        Remembered per (day, time), so expanding many pupils' lessons
        converts each bell time of each date once.
        """
        key = (day, clock)
        found = self._utc.get(key)
        if found is None:
            found = datetime.combine(day, clock, tzinfo=self.zone).astimezone(UTC)
            if len(self._utc) < _MAX_MEMO:
                self._utc[key] = found
        return found

    def changes_offset_on(self, day: date) -> bool:
        """True when the zone's UTC offset changes during ``day`` (a clock change)."""
        midnight = datetime.combine(day, time(0), tzinfo=self.zone)
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
        return midnight.utcoffset() != next_midnight.utcoffset()

    def in_term(self, day: date) -> bool:
        """True when ``day`` falls inside a term (always true when no terms are set)."""
        return not self.terms or any(day in term for term in self.terms)

    def closure_on(self, day: date) -> Closure | None:
        """The closure covering ``day``, if any."""
        return next((closure for closure in self.closures if day in closure), None)

    def is_school_day(self, day: date) -> bool:
        """True when ``day`` is a school weekday, inside a term and not in a closure."""
        return (
            day.weekday() in self.school_weekdays
            and self.in_term(day)
            and self.closure_on(day) is None
        )

    def closed_spans(self, first: date, last: date) -> list[str]:
        """Why the school's weekdays from ``first`` to ``last`` that are closed are closed.

        One sentence per run of days with one cause, e.g. "February half term:
        Mon 17 to Fri 21 Feb" or "School holiday: Mon 7 Apr"; weekends are not listed.
        """
        spans: list[tuple[str, date, date]] = []
        for n in range(max(0, (last - first).days + 1)):
            day = first + timedelta(days=n)
            if day.weekday() not in self.school_weekdays or self.is_school_day(day):
                continue
            closure = self.closure_on(day)
            why = closure.name if closure is not None else "School holiday"
            if spans and spans[-1][0] == why and (day - spans[-1][2]).days <= 3:
                spans[-1] = (why, spans[-1][1], day)
            else:
                spans.append((why, day, day))
        return [f"{why}: {_days(start, end)}" for why, start, end in spans]

    def week_of(self, day: date) -> WeekLetter:
        """``"A"`` or ``"B"`` for the week containing ``day``.

        Raises :class:`CalendarError` if the school has no A/B cycle.
        """
        if self.week_cycle is None:
            raise CalendarError("this school has no A/B week cycle")
        return self.week_cycle.week_of(day)

    def period(self, name: str) -> BellPeriod | None:
        """The bell period called ``name`` (case and spacing ignored; "P1" = "Period 1" = "1")."""
        for key in _period_lookup_keys(name):
            for candidate in (key, f"p{key}", f"period {key}"):
                if candidate in self._periods:
                    return self._periods[candidate]
        return None


def _days(start: date, end: date) -> str:
    if start == end:
        return f"{start:%a} {start.day} {start:%b}"
    if (start.month, start.year) == (end.month, end.year):
        return f"{start:%a} {start.day} to {end:%a} {end.day} {end:%b}"
    return f"{start:%a} {start.day} {start:%b} to {end:%a} {end.day} {end:%b}"


def is_school_day(calendar: SchoolCalendar, day: date) -> bool:
    """Module-level form of :meth:`SchoolCalendar.is_school_day`."""
    return calendar.is_school_day(day)


def week_of(calendar: SchoolCalendar, day: date) -> WeekLetter:
    """Module-level form of :meth:`SchoolCalendar.week_of`."""
    return calendar.week_of(day)
