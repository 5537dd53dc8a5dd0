"""Use cases of timetables: school calendars, importing a pupil's timetable, its lessons.

Bookings, and a pupil's occurrences with their booking state, live in
``scheduler.bookings``; an import tells bookings which lessons changed
(``reconcile_bookings``). Every function takes
an ``AsyncSession`` inside the caller's transaction, the caller (``who``) and
the time (``now``, aware UTC) as plain values, and returns domain objects.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings.ports import BookingEvent
from scheduler.bookings.services import reconcile_bookings
from scheduler.timetables import imports as importers
from scheduler.timetables import repository as repo
from scheduler.timetables.calendar import SchoolCalendar
from scheduler.timetables.imports import ImportRejected, ImportResult
from scheduler.timetables.imports.common import ImportProblem, keep_known_fields
from scheduler.timetables.imports.period_codes import describe_slot, normalise_code, read_shape
from scheduler.timetables.models import LessonRow, Timetable
from scheduler.timetables.occurrences import (
    Lesson,
    TimetableDiff,
    diff_timetables,
)
from telepresence.platform.errors import InvalidInput
from telepresence.platform.models import Pupil, School
from telepresence.platform.security.identity import Principal

__all__ = [
    "ImportOutcome",
    "TimetableFormat",
    "detect_format",
    "get_calendar",
    "import_timetable",
    "parse_timetable",
    "put_calendar",
    "put_period_codes",
    "timetable_of",
]

TimetableFormat = Literal["ical", "csv", "oneroster"]


async def get_calendar(
    session: AsyncSession, who: Principal, school_id: str
) -> tuple[School, SchoolCalendar]:
    """The school and its calendar (``NotFound`` for another provider's school)."""
    school = await repo.get_school(session, who, school_id)
    return school, await repo.load_calendar(session, school)


async def put_calendar(
    session: AsyncSession, who: Principal, school_id: str, calendar: SchoolCalendar, now: datetime
) -> tuple[School, list[BookingEvent]]:
    """Replace the school's calendar; future bookings it invalidates are flagged.

    ``calendar.timezone`` is ignored: the school's zone is part of the school.
    Raises ``InvalidInput`` when the pupils' lessons use A/B weeks and the new
    calendar has none.
    """
    school = await repo.get_school(session, who, school_id)
    await repo.save_calendar(session, school.id, calendar, by=who.subject_id, now=now)
    saved = await repo.load_calendar(session, school)
    pupils = await session.scalars(select(Pupil.id).where(Pupil.school_id == school.id))
    events: list[BookingEvent] = []
    for pupil_id in pupils:
        lessons = [repo.lesson_from_row(r) for r in await repo.load_lessons(session, pupil_id)]
        if saved.week_cycle is None and any(lesson.week for lesson in lessons):
            raise InvalidInput(
                "Pupils of this school have A/B week lessons; the calendar needs its A/B weeks.",
                errors=[{"field": "week_cycle", "message": "required by imported timetables"}],
            )
        events += await reconcile_bookings(
            session, pupil_id, {lsn.key: lsn for lsn in lessons}, saved, now, "calendar changed"
        )
    return school, events


async def put_period_codes(
    session: AsyncSession, who: Principal, school_id: str, codes: list[tuple[str, str]]
) -> tuple[School, dict[str, str]]:
    """Replace the school's own OneRoster period codes; returns each code read in words.

    Raises ``InvalidInput`` naming every code whose meaning is not a readable
    code against the school's bell times and weeks, or that is given twice.
    """
    school = await repo.get_school(session, who, school_id)
    calendar = await repo.load_calendar(session, school)
    errors: list[dict[str, object]] = []
    read_as: dict[str, str] = {}
    for code, meaning in codes:
        key = normalise_code(code)
        slot = read_shape(meaning, calendar)
        if isinstance(slot, str):
            errors.append({"field": code, "message": f"{code} = {meaning}: {slot}"})
        elif key in read_as:
            errors.append({"field": code, "message": f"{code} is given twice"})
        else:
            read_as[key] = describe_slot(slot)
    if errors:
        raise InvalidInput(
            f"The period codes were not saved: {errors[0]['message']}.", errors=errors
        )
    await repo.save_period_codes(
        session, school.id, tuple((normalise_code(c), m.strip()) for c, m in codes)
    )
    return school, read_as


def detect_format(data: bytes, file_name: str = "") -> TimetableFormat:
    """Guess the format from the file's name, else its first bytes (zip, VCALENDAR, CSV)."""
    lowered = file_name.lower()
    if lowered.endswith((".ics", ".ical", ".ifb")):
        return "ical"
    if lowered.endswith(".zip") or data.startswith(b"PK\x03\x04"):
        return "oneroster"
    if data.removeprefix(b"\xef\xbb\xbf").lstrip()[:15].upper() == b"BEGIN:VCALENDAR":
        return "ical"
    return "csv"


def parse_timetable(
    data: bytes,
    fmt: TimetableFormat,
    calendar: SchoolCalendar,
    *,
    file_name: str,
    roster_id: str | None = None,
) -> ImportResult:
    """Run the importer for ``fmt`` (pure, CPU-bound); raises ``ImportRejected``."""
    if fmt == "ical":
        return importers.import_ical(data, calendar=calendar, file_name=file_name)
    if fmt == "csv":
        return importers.import_csv(data, calendar=calendar, file_name=file_name)
    if not roster_id:
        problem = ImportProblem(file_name, None, "roster_id", "say which pupil of the bundle")
        raise ImportRejected([problem])
    return importers.import_oneroster(
        data, calendar=calendar, pupil_id=roster_id, file_name=file_name
    )


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What an import did (or, on a dry run, would do)."""

    source_format: str
    diff: TimetableDiff
    warnings: tuple[ImportProblem, ...]
    dry_run: bool
    events: tuple[BookingEvent, ...]
    period_codes: tuple[tuple[str, str], ...] = ()

    @property
    def flagged(self) -> int:
        """How many bookings were flagged for staff."""
        return sum(1 for e in self.events if e.kind == "flagged")


async def import_timetable(
    session: AsyncSession,
    who: Principal,
    pupil_id: str,
    data: bytes,
    *,
    fmt: TimetableFormat | None,
    file_name: str,
    roster_id: str | None,
    dry_run: bool,
    now: datetime,
) -> ImportOutcome:
    """Validate a whole file, then replace the pupil's timetable with it (unless ``dry_run``).

    All or nothing: raises ``ImportRejected`` (every problem, with lines)
    before anything is written; the caller's transaction makes the write
    atomic. Unchanged lessons keep their rows and bookings; bookings of
    removed or moved lessons are flagged, never deleted.
    """
    pupil = await repo.visible_pupil(session, who, pupil_id)
    school = await session.get(School, pupil.school_id)
    if school is None:
        raise InvalidInput("The pupil's school no longer exists.")
    calendar = await repo.load_calendar(session, school)
    chosen = fmt or detect_format(data, file_name)
    # The importers are pure and CPU-bound on big files: keep them off the event loop.
    result = await asyncio.to_thread(
        parse_timetable, data, chosen, calendar, file_name=file_name, roster_id=roster_id
    )
    if not dry_run:
        await repo.lock_pupil(session, pupil.id)  # one import per pupil at a time
    rows = {row.key: row for row in await repo.load_lessons(session, pupil.id)}
    known = [repo.lesson_from_row(r) for r in rows.values()]
    result = keep_known_fields(result, known, file_name)
    diff = diff_timetables(known, result.lessons)
    events: list[BookingEvent] = []
    if not dry_run:
        await _apply(session, pupil.id, rows, diff)
        await _record_source(session, pupil.id, result, file_name, who, now)
        new = {lesson.key: lesson for lesson in result.lessons}
        events = await reconcile_bookings(
            session, pupil.id, new, calendar, now, "timetable re-imported"
        )
    return ImportOutcome(chosen, diff, result.warnings, dry_run, tuple(events), result.period_codes)


async def _apply(
    session: AsyncSession, pupil_id: str, rows: dict[str, LessonRow], diff: TimetableDiff
) -> None:
    removed = [rows[lesson.key].id for lesson in diff.removed]
    if removed:
        await session.execute(delete(LessonRow).where(LessonRow.id.in_(removed)))
    for change in diff.changed:
        repo.apply_lesson(rows[change.new.key], change.new)
    for lesson in diff.added:
        row = LessonRow(pupil_id=pupil_id)
        repo.apply_lesson(row, lesson)
        session.add(row)
    await session.flush()


async def _record_source(
    session: AsyncSession,
    pupil_id: str,
    result: ImportResult,
    file_name: str,
    who: Principal,
    now: datetime,
) -> None:
    source = await session.get(Timetable, pupil_id)
    if source is None:
        source = Timetable(pupil_id=pupil_id)
        session.add(source)
    source.source_format = result.source_format
    source.file_name = file_name[:200]
    source.lesson_count = len(result.lessons)
    source.imported_at = now
    source.imported_by = who.subject_id


async def timetable_of(
    session: AsyncSession, who: Principal, pupil_id: str
) -> list[tuple[str, Lesson]]:
    """The pupil's lessons with their ids, by lesson key."""
    pupil = await repo.visible_pupil(session, who, pupil_id)
    return [
        (row.id, repo.lesson_from_row(row)) for row in await repo.load_lessons(session, pupil.id)
    ]
