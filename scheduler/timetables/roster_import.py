"""Importing many pupils' timetables from one OneRoster bundle, all or nothing.

A school's roster export holds every pupil, so the bundle is read and
indexed once and each pupil then costs only their own classes; the database
work is set-based (one query per kind of row, bulk inserts) rather than one
round trip per pupil. Same rules as a single import: every problem of every
pupil is reported before anything is written; unchanged lessons keep their
rows and bookings; bookings of changed or removed lessons are flagged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings.services import pupils_with_future_bookings, reconcile_bookings
from scheduler.timetables import repository as repo
from scheduler.timetables.calendar import SchoolCalendar
from scheduler.timetables.imports import ImportProblem, ImportRejected, ImportResult
from scheduler.timetables.imports.common import MAX_PROBLEMS
from scheduler.timetables.imports.oneroster import bundle_lessons, read_bundle
from scheduler.timetables.models import LessonRow, Timetable
from scheduler.timetables.occurrences import Lesson, diff_timetables
from scheduler.timetables.services import ImportOutcome
from telepresence.platform.database import new_id
from telepresence.platform.errors import NotFound
from telepresence.platform.models import Pupil, School
from telepresence.platform.security.identity import Principal

__all__ = ["RosterPupil", "import_roster", "lesson_values", "parse_roster"]

CHUNK = 1000  # ids per IN (...) list: well inside SQLite's and asyncpg's parameter limits


@dataclass(frozen=True, slots=True)
class RosterPupil:
    """A pupil of ours, their id in the bundle and their school's calendar."""

    pupil_id: str
    roster_id: str
    calendar: SchoolCalendar


def parse_roster(
    data: bytes, pupils: Sequence[RosterPupil], *, file_name: str
) -> dict[str, ImportResult]:
    """Each pupil's validated lessons, by pupil id (pure, CPU-bound).

    Raises :class:`ImportRejected` with every problem of every pupil, each
    message naming the pupil's roster id.
    """
    roster = read_bundle(data, file_name=file_name)
    results: dict[str, ImportResult] = {}
    problems: list[ImportProblem] = []
    for pupil in pupils:
        try:
            results[pupil.pupil_id] = bundle_lessons(
                roster, calendar=pupil.calendar, pupil_id=pupil.roster_id
            )
        except ImportRejected as exc:
            problems += [
                ImportProblem(p.file, p.line, p.field, f"pupil {pupil.roster_id}: {p.message}")
                for p in exc.errors
            ]
    if problems:
        raise ImportRejected(problems[:MAX_PROBLEMS])
    return results


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]


async def _roster_pupils(
    session: AsyncSession, who: Principal, pupils: Mapping[str, str]
) -> list[RosterPupil]:
    found: dict[str, Pupil] = {}
    for chunk in _chunks(list(pupils)):
        rows = await session.scalars(
            select(Pupil).where(Pupil.id.in_(chunk), Pupil.provider_id == who.provider_id)
        )
        found |= {p.id: p for p in rows}
    missing = [pupil_id for pupil_id in pupils if pupil_id not in found]
    if missing:
        raise NotFound(f"There is no pupil {missing[0]!r} ({len(missing)} unknown).")
    calendars: dict[str, SchoolCalendar] = {}
    for school_id in {p.school_id for p in found.values()}:
        school = await session.get(School, school_id)
        if school is None:
            raise NotFound(f"There is no school {school_id!r}.")
        calendars[school_id] = await repo.load_calendar(session, school)
    return [RosterPupil(pid, rid, calendars[found[pid].school_id]) for pid, rid in pupils.items()]


def lesson_values(pupil_id: str, lesson: Lesson) -> dict[str, Any]:
    """The columns of a new lesson row (as ``repository.apply_lesson`` writes them)."""
    return {
        "id": new_id(),
        "pupil_id": pupil_id,
        "key": lesson.key,
        "subject": lesson.subject,
        "class_group": lesson.class_group,
        "teacher": lesson.teacher,
        "room": lesson.room,
        "weekday": lesson.weekday,
        "start_time": lesson.start,
        "end_time": lesson.end,
        "week": repo.stored_week(lesson),
        "valid_from": lesson.valid_from,
        "valid_to": lesson.valid_to,
        "excluded_dates": sorted(d.isoformat() for d in lesson.excluded_dates),
        "extra_dates": sorted(d.isoformat() for d in lesson.extra_dates),
    }


async def _existing(session: AsyncSession, ids: Sequence[str]) -> dict[str, dict[str, LessonRow]]:
    rows: dict[str, dict[str, LessonRow]] = {pupil_id: {} for pupil_id in ids}
    for chunk in _chunks(ids):
        for row in await session.scalars(select(LessonRow).where(LessonRow.pupil_id.in_(chunk))):
            rows[row.pupil_id][row.key] = row
    return rows


async def _record_sources(
    session: AsyncSession,
    ids: Sequence[str],
    results: Mapping[str, ImportResult],
    meta: dict[str, Any],
) -> None:
    known: dict[str, Timetable] = {}
    for chunk in _chunks(ids):
        rows = await session.scalars(select(Timetable).where(Timetable.pupil_id.in_(chunk)))
        known |= {t.pupil_id: t for t in rows}
    fresh = []
    for pupil_id in ids:
        values = meta | {"pupil_id": pupil_id, "lesson_count": len(results[pupil_id].lessons)}
        if pupil_id in known:
            for name, value in values.items():
                setattr(known[pupil_id], name, value)
        else:
            fresh.append(values)
    if fresh:
        await session.execute(insert(Timetable), fresh)


async def import_roster(
    session: AsyncSession,
    who: Principal,
    data: bytes,
    pupils: Mapping[str, str],
    *,
    file_name: str,
    dry_run: bool,
    now: datetime,
) -> dict[str, ImportOutcome]:
    """Import the timetables of ``pupils`` (our pupil id -> sourcedId or identifier in the bundle).

    All or nothing in the caller's transaction: raises ``NotFound`` for a
    pupil the caller cannot see and ``ImportRejected`` (every problem of every
    pupil) before anything is written. Returns each pupil's outcome.
    """
    ids = list(pupils)
    wanted = await _roster_pupils(session, who, pupils)
    results = await asyncio.to_thread(parse_roster, data, wanted, file_name=file_name)
    if not dry_run:
        await repo.lock_pupils(session, ids)
    existing = await _existing(session, ids)
    outcomes: dict[str, ImportOutcome] = {}
    removed: list[str] = []
    added: list[dict[str, Any]] = []
    for pupil_id in ids:
        rows = existing[pupil_id]
        result = results[pupil_id]
        diff = diff_timetables((repo.lesson_from_row(r) for r in rows.values()), result.lessons)
        outcomes[pupil_id] = ImportOutcome("oneroster", diff, result.warnings, dry_run, ())
        if not dry_run:
            removed += [rows[lesson.key].id for lesson in diff.removed]
            for change in diff.changed:
                repo.apply_lesson(rows[change.new.key], change.new)
            added += [lesson_values(pupil_id, lesson) for lesson in diff.added]
    if dry_run:
        return outcomes
    for chunk in _chunks(removed):
        await session.execute(delete(LessonRow).where(LessonRow.id.in_(chunk)))
    if added:
        await session.execute(insert(LessonRow), added)
    meta = {
        "source_format": "oneroster",
        "file_name": file_name[:200],
        "imported_at": now,
        "imported_by": who.subject_id,
    }
    await _record_sources(session, ids, results, meta)
    await session.flush()
    booked = await pupils_with_future_bookings(session, ids, now, CHUNK)
    for pupil in (p for p in wanted if p.pupil_id in booked):
        new = {lesson.key: lesson for lesson in results[pupil.pupil_id].lessons}
        events = await reconcile_bookings(
            session, pupil.pupil_id, new, pupil.calendar, now, "timetable re-imported"
        )
        old = outcomes[pupil.pupil_id]
        outcomes[pupil.pupil_id] = ImportOutcome(
            "oneroster", old.diff, old.warnings, False, tuple(events)
        )
    return outcomes
