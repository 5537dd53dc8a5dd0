"""Import a pupil's timetable from an iCalendar (RFC 5545) export.

Written for what SIMS, Outlook and Google really write: VTIMEZONE blocks with
Windows zone names, X-WR-TIMEZONE, floating and UTC times, weekly RRULEs
(INTERVAL=2 for A/B weeks, complete in itself), UNTIL/COUNT, EXDATE/RDATE, moved instances
(RECURRENCE-ID), folded lines, CRLF and a BOM. Recurrence is never expanded
here: a weekly event becomes a :class:`Lesson` that :func:`expand` dates later.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from scheduler.timetables.calendar import CalendarError, SchoolCalendar, load_zone, monday_of
from scheduler.timetables.imports.common import (
    MAX_LESSONS,
    ImportResult,
    LineLesson,
    ProblemLog,
    decode_text,
    parse_weekday,
)
from scheduler.timetables.imports.overlaps import find_overlaps
from scheduler.timetables.occurrences import Lesson

__all__ = ["MAX_COUNT", "MAX_EVENTS", "WINDOWS_ZONES", "import_ical", "resolve_tzid"]

MAX_EVENTS = 5_000
MAX_COUNT = 1_000
MAX_DEPTH = 8  # VCALENDAR > VEVENT > VALARM is 3 deep; real exports never nest further

# The Windows zone names exports use, mapped as CLDR's windowsZones.xml maps them
# (territory 001). Only zones a UK school's staff are likely to export from.
WINDOWS_ZONES = {
    "GMT Standard Time": "Europe/London",
    "(UTC+00:00) Dublin, Edinburgh, Lisbon, London": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "Pacific Standard Time": "America/Los_Angeles",
}
_ALLOWED_RULE_PARTS = {"FREQ", "INTERVAL", "UNTIL", "COUNT", "BYDAY", "WKST"}
_WATCHED = ("DTSTART", "DTEND", "DURATION", "RRULE", "EXDATE", "RDATE", "RECURRENCE-ID")


def resolve_tzid(tzid: str) -> str | None:
    """The IANA name for an iCalendar TZID (Olson, Windows or prefixed Olson), else ``None``."""
    name = tzid.strip().strip('"')
    candidates = [WINDOWS_ZONES.get(name, name)]
    parts = name.strip("/").split("/")
    candidates += ["/".join(parts[-n:]) for n in (3, 2) if len(parts) > n]  # /mozilla.org/.../X/Y
    for candidate in candidates:
        try:
            return load_zone(candidate).key
        except CalendarError:
            continue
    return None


class _Bad(Exception):
    def __init__(self, prop: str | None, message: str) -> None:
        super().__init__(message)
        self.prop = prop
        self.message = message


@dataclass(slots=True)
class _EventLines:
    begin: int
    props: dict[str, int] = field(default_factory=dict)

    def of(self, prop: str | None) -> int:
        return self.props.get(prop, self.begin) if prop else self.begin


def _begin(
    stack: list[tuple[str, int]],
    events: list[_EventLines],
    value: str,
    number: int,
    log: ProblemLog,
) -> None:
    """Open a component; refuses (once) files nested or sized like no calendar export."""
    stack.append((value, number))
    if len(stack) > MAX_DEPTH:
        raise log.reject(
            number,
            f"components nested more than {MAX_DEPTH} deep (BEGIN:{value} inside "
            f"BEGIN:{stack[-2][0]}): this is not a calendar export",
        )
    if value == "VEVENT":
        events.append(_EventLines(number))
        if len(events) > MAX_EVENTS:
            raise log.reject(number, f"more than {MAX_EVENTS} events")


def _scan(text: str, log: ProblemLog) -> tuple[list[_EventLines], dict[str, int]]:
    """Line numbers of every VEVENT and its properties; refuses truncated or huge files."""
    events: list[_EventLines] = []
    top: dict[str, int] = {}
    stack: list[tuple[str, int]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw[0] in " \t":
            continue  # blank or a folded continuation
        name = re.split(r"[;:]", raw, maxsplit=1)[0].strip().upper()
        value = raw.split(":", 1)[1].strip().upper() if ":" in raw else ""
        if not stack and name != "BEGIN":
            raise log.reject(number, "not an iCalendar file: it must start with BEGIN:VCALENDAR")
        if name == "BEGIN":
            _begin(stack, events, value, number, log)
        elif name == "END":
            if not stack or stack[-1][0] != value:
                raise log.reject(number, f"END:{value} does not close the open component")
            stack.pop()
        elif stack and stack[-1][0] == "VEVENT":
            events[-1].props.setdefault(name, number)
        elif stack and stack[-1][0] == "VCALENDAR":
            top.setdefault(name, number)
    if stack:
        kind, line = stack[-1]
        raise log.reject(line, f"BEGIN:{kind} is never closed: the file looks truncated")
    if not top and not events:
        raise log.reject(1, "calendar has no content")
    return events, top


@dataclass(slots=True)
class _Context:
    calendar: SchoolCalendar
    floating: ZoneInfo
    log: ProblemLog
    converted: set[int] = field(default_factory=set)

    def local(self, prop: Any, name: str, line: int) -> datetime:
        """A datetime property as a naive wall-clock time in the school's zone."""
        value = prop.dt
        if not isinstance(value, datetime):
            raise _Bad(name, f"{name} must be a date with a time")
        tzid = prop.params.get("TZID")
        if tzid:
            resolved = resolve_tzid(str(tzid))
            if resolved is None:
                raise _Bad(name, f"unknown time zone {tzid!r}")
            source = ZoneInfo(resolved)
        elif value.tzinfo is not None:
            source = ZoneInfo("UTC")
        else:
            source = self.floating
        naive = value.replace(tzinfo=None)
        school = self.calendar.zone
        if source.key == school.key:
            return naive
        if line not in self.converted:
            self.converted.add(line)
            self.log.note(line, name, f"time in {source.key} taken as the school's local time")
        return naive.replace(tzinfo=source).astimezone(school).replace(tzinfo=None)


def _get(event: icalendar.Event, name: str) -> Any:
    return event.get(name)


def _readable(event: icalendar.Event) -> None:
    for name in ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "SUMMARY", "UID"):
        if isinstance(event.get(name), list):
            raise _Bad(name, f"{name} appears more than once in the event")
    for prop, message in event.errors:
        if prop in _WATCHED:
            raise _Bad(prop, f"cannot read {prop}: {message}")


def _text(event: icalendar.Event, name: str) -> str:
    value = event.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _description_field(event: icalendar.Event, *labels: str) -> str:
    for raw in str(event.get("DESCRIPTION", "")).splitlines():
        label, _, rest = raw.partition(":")
        if label.strip().lower() in labels and rest.strip():
            return rest.strip()
    return ""


def _teacher(event: icalendar.Event) -> str:
    named = _description_field(event, "teacher", "staff")
    organizer = event.get("ORGANIZER")
    if named or organizer is None:
        return named
    return str(organizer.params.get("CN", "")).strip()


def _dates(prop: Any, name: str, ctx: _Context, line: int) -> set[datetime]:
    found: set[datetime] = set()
    for group in prop if isinstance(prop, list) else [prop]:
        for item in group.dts:
            if isinstance(item.dt, tuple):
                raise _Bad(name, f"{name} periods are not supported")
            if isinstance(item.dt, datetime):
                found.add(ctx.local(item, name, line))
            else:
                found.add(datetime.combine(item.dt, time()))
    return found


@dataclass(frozen=True, slots=True)
class _Rule:
    weekdays: tuple[int, ...]
    interval: int
    last: date | None


def _rule(rrule: Any, first: datetime, ctx: _Context, line: int) -> _Rule:
    """Check a RRULE against what a timetable can be, without expanding it."""
    if isinstance(rrule, list):
        raise _Bad("RRULE", "more than one RRULE in one event")
    extra = sorted(set(rrule) - _ALLOWED_RULE_PARTS)
    if extra:
        raise _Bad("RRULE", f"rule parts {', '.join(extra)} are not supported")
    freq = rrule.get("FREQ", [""])[0]
    interval = int(rrule.get("INTERVAL", [1])[0])
    byday = rrule.get("BYDAY", [])
    if freq not in ("WEEKLY", "DAILY") or (freq == "DAILY" and (not byday or interval != 1)):
        raise _Bad("RRULE", f"FREQ={freq} is not supported: lessons repeat weekly")
    if interval not in (1, 2):
        raise _Bad("RRULE", f"INTERVAL={interval}: only every week or every other week (A/B)")
    try:
        weekdays = tuple(sorted({parse_weekday(day) for day in byday})) or (first.weekday(),)
    except ValueError as exc:
        raise _Bad("RRULE", f"BYDAY {','.join(byday)} is not a plain list of days") from exc
    count, until = rrule.get("COUNT", [None])[0], rrule.get("UNTIL", [None])[0]
    if count is not None and until is not None:
        raise _Bad("RRULE", "COUNT and UNTIL together are not allowed (RFC 5545)")
    if count is not None and not 1 <= int(count) <= MAX_COUNT:
        raise _Bad("RRULE", f"COUNT={count} is outside 1..{MAX_COUNT}")
    last: date | None = None
    if count is not None:
        last = _last_counted(first.date(), weekdays, interval, int(count))
    elif isinstance(until, datetime):
        last = _until_date(until, ctx)
    elif isinstance(until, date):
        last = until
    return _Rule(weekdays, interval, last)


def _until_date(until: datetime, ctx: _Context) -> date:
    if until.tzinfo is None:
        return until.date()
    return until.astimezone(ctx.calendar.zone).date()


def _last_counted(first: date, weekdays: tuple[int, ...], interval: int, count: int) -> date:
    """The date of the COUNT-th instance; DTSTART is the first (RFC 5545 §3.3.10)."""
    seen, last, monday = 1, first, monday_of(first)
    while seen < count:
        for weekday in weekdays:
            day = monday + timedelta(days=weekday)
            if day > first:
                seen, last = seen + 1, day
                if seen == count:
                    return last
        monday += timedelta(weeks=interval)
    return last


def _span(event: icalendar.Event, ctx: _Context, lines: _EventLines) -> tuple[datetime, datetime]:
    start = ctx.local(event["DTSTART"], "DTSTART", lines.of("DTSTART"))
    if "DTEND" in event:
        end = ctx.local(event["DTEND"], "DTEND", lines.of("DTEND"))
        if end <= start:
            raise _Bad("DTEND", f"DTEND {end:%Y-%m-%d %H:%M} is not after DTSTART {start:%H:%M}")
    elif "DURATION" in event and isinstance(_get(event, "DURATION").dt, timedelta):
        end = start + _get(event, "DURATION").dt
        if end <= start:
            raise _Bad("DURATION", "DURATION must be positive")
    else:
        raise _Bad("DTEND", "event has neither DTEND nor DURATION")
    if end.date() != start.date():
        raise _Bad("DTEND", "a lesson must end on the day it starts")
    return start, end


def _lessons(event: icalendar.Event, ctx: _Context, lines: _EventLines) -> list[Lesson]:
    """The lessons one VEVENT stands for (one per weekday of its rule)."""
    if "DTSTART" not in event:
        raise _Bad(None, "event has no DTSTART")
    start, end = _span(event, ctx, lines)
    subject = _text(event, "SUMMARY")
    if not subject:
        raise _Bad("SUMMARY", "event has no SUMMARY (the subject)")
    excluded = {
        d.date() for d in _dates(event.get("EXDATE", []), "EXDATE", ctx, lines.of("EXDATE"))
    }
    extra = _dates(event.get("RDATE", []), "RDATE", ctx, lines.of("RDATE"))
    if any(d.time() not in (start.time(), time()) for d in extra):
        raise _Bad("RDATE", "an RDATE at another time of day is not supported; add an event")
    rule = None
    if "RRULE" in event:
        rule = _rule(event["RRULE"], start, ctx, lines.of("RRULE"))
    common: dict[str, Any] = {
        "subject": subject,
        "start": start.time(),
        "end": end.time(),
        "class_group": _description_field(event, "class", "group", "class group"),
        "teacher": _teacher(event),
        "room": _text(event, "LOCATION"),
        "valid_from": start.date(),
        "valid_to": rule.last if rule else start.date(),
        "interval": rule.interval if rule else 1,
        "extra_dates": frozenset(d.date() for d in extra),
        "excluded_dates": frozenset(excluded),
    }
    weekdays = rule.weekdays if rule else (start.weekday(),)
    try:
        return [Lesson(weekday=weekday, **common) for weekday in weekdays]
    except ValueError as exc:
        raise _Bad(None, str(exc)) from exc


def _floating_zone(
    cal: icalendar.Calendar, school: SchoolCalendar, log: ProblemLog, top: dict[str, int]
) -> ZoneInfo:
    declared = cal.get("X-WR-TIMEZONE")
    if declared is None:
        return school.zone
    resolved = resolve_tzid(str(declared))
    if resolved is None:
        log.add(top.get("X-WR-TIMEZONE"), "X-WR-TIMEZONE", f"unknown time zone {str(declared)!r}")
        return school.zone
    return ZoneInfo(resolved)


def _recurrence_date(event: icalendar.Event, ctx: _Context, lines: _EventLines) -> date:
    return ctx.local(event["RECURRENCE-ID"], "RECURRENCE-ID", lines.of("RECURRENCE-ID")).date()


def _convert_all(
    pairs: Iterable[tuple[icalendar.Event, _EventLines]], ctx: _Context
) -> list[LineLesson]:
    masters: dict[str, list[LineLesson]] = defaultdict(list)
    singles: list[LineLesson] = []
    moved: list[tuple[str, date]] = []
    for event, lines in pairs:
        uid = _text(event, "UID")
        try:
            _readable(event)
            if "RECURRENCE-ID" in event:
                moved.append((uid, _recurrence_date(event, ctx, lines)))
            if _text(event, "STATUS").upper() == "CANCELLED":
                continue
            if "DTSTART" in event and not isinstance(_get(event, "DTSTART").dt, datetime):
                ctx.log.note(lines.begin, "DTSTART", "all-day event skipped: it is not a lesson")
                continue
            found = [
                LineLesson(lesson, lines.begin, ctx.log.file)
                for lesson in _lessons(event, ctx, lines)
            ]
        except _Bad as bad:
            ctx.log.add(lines.of(bad.prop), bad.prop, bad.message)
            continue
        target = singles if "RECURRENCE-ID" in event or not uid else masters[uid]
        target.extend(found)
    for uid, day in moved:
        masters[uid] = [
            replace(e, lesson=replace(e.lesson, excluded_dates=e.lesson.excluded_dates | {day}))
            for e in masters.get(uid, [])
        ]
    return [entry for group in masters.values() for entry in group] + singles


def import_ical(
    data: bytes, *, calendar: SchoolCalendar, file_name: str = "timetable.ics"
) -> ImportResult:
    """Turn an iCalendar export into validated lessons in the school's local time.

    All or nothing: returns every lesson, or raises :class:`ImportRejected`
    listing every problem with the line of the event (or property) at fault.
    Weekly (and DAILY+BYDAY) events become recurring lessons, INTERVAL=2 ones
    every other week counted from DTSTART's week, as the file says, whatever
    the school's A/B cycle (none is needed); one-off
    events become single-date lessons; all-day and cancelled events are
    skipped with a warning. Times in another zone (UTC, say) are converted at
    DTSTART and then kept as local wall-clock times, with a warning.
    """
    log = ProblemLog(file_name)
    text = decode_text(data, file_name)
    lines, top = _scan(text, log)
    try:
        cal = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise log.reject(None, f"not a readable iCalendar file: {exc}") from exc
    events = [event for event in cal.walk("VEVENT") if isinstance(event, icalendar.Event)]
    if len(events) != len(lines):
        raise log.reject(None, "the calendar's events could not be matched to lines")
    ctx = _Context(calendar, _floating_zone(cal, calendar, log, top), log)
    entries = _convert_all(zip(events, lines, strict=True), ctx)
    if not entries and not log.problems:
        log.add(None, None, "the calendar holds no timed events")
    if len(entries) > MAX_LESSONS:
        raise log.reject(None, f"more than {MAX_LESSONS} lessons")
    log.problems.extend(find_overlaps(entries, calendar))
    log.raise_if_any()
    return ImportResult(tuple(e.lesson for e in entries), "ical", tuple(log.warnings))
