"""Reading the period codes schools write in OneRoster's free-text ``classes.periods``.

OneRoster 1.2 leaves ``periods`` to the school, and schools encode week, day
and period in their own ways. The shapes accepted here, case and separators
(``: - / _ .`` and spaces) free:

- ``Mon:1``, ``Mon:P1``, ``Monday-Period 1``, ``Mon:Reg`` (a bell period by name): every week;
- ``A:Mon:1``, ``Wk1 Mon 1``, ``1Mon:1`` (week first; 1 = A, 2 = B);
- ``MonA:1`` (week after the day), ``Mon-1A`` (week after the period);
- ``1``, ``P1``: that period on every school day (a daily class).

A school whose codes fit none of these (``X1``, ``D6``) maps them once to one
of these shapes; the school's mapping is looked up first. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from scheduler.timetables.calendar import BellPeriod, SchoolCalendar, WeekLetter
from scheduler.timetables.imports.common import parse_weekday

__all__ = ["PeriodSlot", "describe_slot", "normalise_code", "read_code", "read_shape"]

_SEP = r"[\s:\-/_.]*"
_DAY = (
    r"(?P<day>mon(?:day)?|tue(?:s|sday)?|wed(?:s|nesday)?|thu(?:rsday|rs|r)?|fri(?:day)?"
    r"|sat(?:urday)?|sun(?:day)?)"
)
_WEEK_FIRST = r"(?:(?:w(?:ee)?k\s*)?(?P<w1>[ab12]))"
_NUMBER = r"(?P<num>(?:p(?:eriod)?\s*)?\d{1,2})"
_NAME = r"(?P<name>[a-z][a-z0-9 ]*)"
_FULL = re.compile(
    rf"^(?:{_WEEK_FIRST}{_SEP})?{_DAY}(?:{_SEP}(?P<w2>[ab])(?![a-z]))?{_SEP}"
    rf"(?:{_NUMBER}{_SEP}(?P<w3>[ab])?|{_NAME})$",
    re.IGNORECASE,
)
_DAILY = re.compile(rf"^{_NUMBER}$", re.IGNORECASE)
# Only to say precisely what is wrong with a code shaped like Day:Period.
_LOOSE = re.compile(r"^(?:[AaBb]\s*[:\-]\s*)?([A-Za-z]+)\s*[:\-]\s*(.+)$")
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EXAMPLES = "e.g. 'Mon:1', 'A:Mon:1', 'MonA:1', 'Mon-1A' or '1'"


@dataclass(frozen=True, slots=True)
class PeriodSlot:
    """What one code means: the week (None: every week), the weekdays and the bell period."""

    week: WeekLetter | None
    weekdays: tuple[int, ...]
    period: BellPeriod


def normalise_code(code: str) -> str:
    """A code as a school's mapping keys it: lower case, single spaces."""
    return " ".join(code.lower().split())


def _week(letter: str | None) -> WeekLetter | None:
    if not letter:
        return None
    return "A" if letter.upper() in ("A", "1") else "B"


def _unreadable(text: str) -> str:
    """Why a code fits no shape: an unknown day when it looks like Day:Period."""
    loose = _LOOSE.match(text)
    if loose is not None:
        try:
            parse_weekday(loose[1])
        except ValueError as exc:
            return f"in {text!r}: {exc}"
    return (
        f"period {text!r} is not a code we can read ({EXAMPLES}): "
        "map it in the school's period codes"
    )


def read_shape(code: str, calendar: SchoolCalendar) -> PeriodSlot | str:
    """The slot of a code in one of the accepted shapes, or what is wrong with it."""
    text = code.strip()
    match = _DAILY.match(text) or _FULL.match(text)
    if match is None:
        return _unreadable(text)
    daily = match.re is _DAILY
    name = (match["num"] if daily else match["num"] or match["name"]).strip()
    period = calendar.period(name)
    if period is None:
        return f"in {text!r}: unknown period {name!r} in the school's bell times"
    if daily:
        return PeriodSlot(None, tuple(sorted(calendar.school_weekdays)), period)
    letters = [w for w in (match["w1"], match["w2"], match["w3"]) if w]
    week = _week(letters[0] if letters else None)
    if len(letters) > 1:
        return f"in {text!r}: more than one week"
    if week and calendar.week_cycle is None:
        return f"in {text!r}: week {week} but the school has no A/B week cycle"
    return PeriodSlot(week, (parse_weekday(match["day"]),), period)


def read_code(
    code: str, calendar: SchoolCalendar, mapping: Iterable[tuple[str, str]] = ()
) -> tuple[PeriodSlot | str, bool]:
    """The slot of one ``periods`` entry and whether the school's mapping gave it.

    The school's mapping (code -> a code in an accepted shape) wins over the
    shapes; an unreadable code comes back as the message saying why.
    """
    meaning = dict(mapping).get(normalise_code(code))
    if meaning is not None:
        slot = read_shape(meaning, calendar)
        if isinstance(slot, str):
            return f"the school maps {code.strip()!r} to {meaning!r}: {slot}", True
        return slot, True
    return read_shape(code, calendar), False


def describe_slot(slot: PeriodSlot) -> str:
    """A slot in words for a preview: "Week A, Mon, P1 08:50-09:40"."""
    days = slot.weekdays
    if len(days) == 1:
        when = _DAY_NAMES[days[0]]
    elif list(days) == list(range(days[0], days[-1] + 1)):
        when = f"{_DAY_NAMES[days[0]]}-{_DAY_NAMES[days[-1]]}"
    else:
        when = ", ".join(_DAY_NAMES[d] for d in days)
    week = f"Week {slot.week}" if slot.week else "Every week"
    period = slot.period
    return f"{week}, {when}, {period.name} {period.start:%H:%M}-{period.end:%H:%M}"
