"""Import a pupil's timetable from a spreadsheet saved as CSV (SIMS, Arbor, Bromcom, by hand).

Columns (header names are case-, space- and underscore-insensitive; aliases in
``COLUMN_ALIASES``): ``day`` and ``subject`` are required, plus either
``period`` (mapped through the school's bell times) or ``start`` and ``end``;
``week``, ``class group``, ``teacher``, ``room``, ``valid from``, ``valid to``
are optional. Separator ``,`` ``;`` or tab, sniffed from the header line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from scheduler.timetables.calendar import SchoolCalendar
from scheduler.timetables.imports.common import (
    MAX_LESSONS,
    ImportResult,
    LineLesson,
    ProblemLog,
    decode_text,
    parse_clock,
    parse_date,
    parse_week,
    parse_weekday,
)
from scheduler.timetables.imports.overlaps import find_overlaps
from scheduler.timetables.occurrences import Lesson

__all__ = ["COLUMN_ALIASES", "import_csv"]

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "week": ("week", "wk", "weekab", "cycle", "timetableweek"),
    "day": ("day", "weekday", "dayofweek"),
    "period": ("period", "lesson", "periodname", "slot"),
    "start": ("start", "starttime", "begins", "from"),
    "end": ("end", "endtime", "finish", "finishtime", "to"),
    "subject": ("subject", "subjectname", "course", "coursetitle"),
    "class_group": ("classgroup", "class", "group", "set", "teachinggroup", "classcode"),
    "teacher": ("teacher", "staff", "teachername", "staffname", "staffcode", "tutor"),
    "room": ("room", "location", "roomname"),
    "valid_from": ("validfrom", "startdate", "effectivefrom", "fromdate"),
    "valid_to": ("validto", "enddate", "effectiveto", "todate", "until"),
}
_LOOKUP = {alias: name for name, aliases in COLUMN_ALIASES.items() for alias in aliases}
_LABELS = {"class_group": "class group", "valid_from": "valid from", "valid_to": "valid to"}


def _normalise_header(cell: str) -> str:
    return re.sub(r"[\s_\-./()]+", "", cell.strip().lower())


def _sniff_separator(text: str) -> str:
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _columns(header: list[str], line: int, log: ProblemLog) -> dict[str, int]:
    """Map canonical column names to positions; log missing, duplicate and unknown ones."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = _LOOKUP.get(_normalise_header(cell))
        if name is None:
            if cell.strip():
                log.note(line, cell.strip(), "column not recognised; ignored")
            continue
        if name in columns:
            log.add(line, cell.strip(), f"column {_LABELS.get(name, name)!r} appears twice")
        columns.setdefault(name, index)
    missing = [name for name in ("day", "subject") if name not in columns]
    if "period" not in columns and not {"start", "end"} <= columns.keys():
        missing.append("period (or start and end)")
    for name in missing:
        log.add(line, None, f"missing column {_LABELS.get(name, name)!r}")
    return columns


def _records(text: str, separator: str, log: ProblemLog) -> Iterator[tuple[int, list[str]]]:
    """Yield (first physical line, cells) of every non-blank record."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    previous_end = 0
    try:
        for row in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if any(cell.strip() for cell in row):
                yield start, row
    except csv.Error as exc:
        log.add(previous_end + 1, None, f"unreadable CSV ({exc}); is the file truncated?")


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    cells: dict[str, str]

    def get(self, name: str) -> str:
        return self.cells.get(name, "").strip()


def _times(row: _Row, calendar: SchoolCalendar, log: ProblemLog) -> tuple[time, time] | None:
    if row.get("start") or row.get("end"):
        found: dict[str, time] = {}
        for name in ("start", "end"):
            try:
                found[name] = parse_clock(row.get(name))
            except ValueError as exc:
                log.add(row.line, name, str(exc))
        return (found["start"], found["end"]) if len(found) == 2 else None
    period_name = row.get("period")
    if not period_name:
        log.add(row.line, "period", "give a period or a start and end time")
        return None
    period = calendar.period(period_name)
    if period is None:
        known = ", ".join(p.name for p in calendar.bell_times) or "none set up"
        log.add(row.line, "period", f"unknown period {period_name!r} (bell times: {known})")
        return None
    return period.start, period.end


def _parsed(row: _Row, name: str, parser: Any, log: ProblemLog) -> Any:
    try:
        return parser(row.get(name)) if row.get(name) or name == "week" else None
    except ValueError as exc:
        log.add(row.line, _LABELS.get(name, name), str(exc))
        return _FAILED


_FAILED = object()


def _lesson(row: _Row, calendar: SchoolCalendar, log: ProblemLog) -> Lesson | None:
    """One row as a lesson, logging every problem in the row (not just the first)."""
    before = len(log.problems)
    weekday = _parsed(row, "day", parse_weekday, log)
    if weekday is None:
        log.add(row.line, "day", "day is empty")
    week = _parsed(row, "week", parse_week, log)
    if week in ("A", "B") and calendar.week_cycle is None:
        log.add(row.line, "week", "week A/B given but the school has no A/B week cycle")
    valid_from: date | None = _parsed(row, "valid_from", parse_date, log)
    valid_to: date | None = _parsed(row, "valid_to", parse_date, log)
    times = _times(row, calendar, log)
    if not row.get("subject"):
        log.add(row.line, "subject", "subject is empty")
    if len(log.problems) > before or times is None:
        return None
    try:
        return Lesson(
            subject=row.get("subject"),
            weekday=weekday,
            start=times[0],
            end=times[1],
            class_group=row.get("class_group"),
            teacher=row.get("teacher"),
            room=row.get("room"),
            week=week,
            valid_from=valid_from,
            valid_to=valid_to,
        )
    except ValueError as exc:
        log.add(row.line, None, str(exc))
        return None


def import_csv(
    data: bytes, *, calendar: SchoolCalendar, file_name: str = "timetable.csv"
) -> ImportResult:
    """Turn a CSV timetable into validated lessons (times are the school's local times).

    All or nothing: returns every lesson, or raises :class:`ImportRejected`
    listing every problem in the file with its line (1-based, physical) and
    column. Cell values are kept verbatim, including ones that look like
    spreadsheet formulas (exports escape them with ``escape_for_csv``).
    """
    log = ProblemLog(file_name)
    text = decode_text(data, file_name)
    records = _records(text, _sniff_separator(text), log)
    header_line, header = next(records, (1, []))
    columns = _columns(header, header_line, log)
    log.raise_if_any()  # without the right columns every row would only repeat the problem
    entries: list[LineLesson] = []
    seen_rows = False
    for line, cells in records:
        seen_rows = True
        if len(cells) > len(header):
            log.add(line, None, f"row has {len(cells)} cells but the header has {len(header)}")
            continue
        row = _Row(line, {name: cells[i] for name, i in columns.items() if i < len(cells)})
        lesson = _lesson(row, calendar, log)
        if lesson is not None:
            entries.append(LineLesson(lesson, line, file_name))
        if len(entries) > MAX_LESSONS:
            raise log.reject(
                line,
                f"more than {MAX_LESSONS} lessons: one pupil's timetable "
                "is far smaller; is this the whole school's export?",
            )
    if not seen_rows and not log.problems:
        log.add(None, None, "the file has a header but no lessons")
    log.problems.extend(find_overlaps(entries, calendar))
    log.raise_if_any()
    absent = frozenset(name for name in ("class_group", "teacher", "room") if name not in columns)
    return ImportResult(
        tuple(e.lesson for e in entries), "csv", tuple(log.warnings), absent_fields=absent
    )
