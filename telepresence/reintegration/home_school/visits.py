"""After-care visits by the key worker to the pupil in school, and their calendar feed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.timetables.services import get_calendar
from telepresence.platform.errors import Conflict, InvalidInput, NotFound
from telepresence.platform.models import Pupil, School
from telepresence.platform.security.identity import Principal
from telepresence.reintegration.access import require_key_worker
from telepresence.reintegration.domain import Phase
from telepresence.reintegration.models import PlanRow, VisitRow
from telepresence.reintegration.schemas import VisitIn, VisitOut, VisitRecordIn
from telepresence.reintegration.services import add_event

__all__ = [
    "record_visit",
    "revise_visit",
    "schedule_visit",
    "visit_out",
    "visits_calendar",
    "visits_of",
    "visits_of_key_worker",
]

VISITING = {Phase.PHASED_RETURN, Phase.BACK_IN_SCHOOL, Phase.AFTER_CARE}


def visit_out(visit: VisitRow) -> VisitOut:
    """The API view of a visit."""
    return VisitOut(
        id=visit.id,
        plan_id=visit.plan_id,
        school_id=visit.school_id,
        starts_at=visit.starts_at,
        ends_at=visit.ends_at,
        status=visit.status,
        notes=visit.notes,
        revision=visit.revision,
    )


async def _check_time(
    session: AsyncSession, who: Principal, plan: PlanRow, data: VisitIn, now: datetime
) -> None:
    """Refuse a visit in the past or on a day the school is closed (its own calendar)."""
    if data.starts_at <= now:
        raise InvalidInput(
            "A visit must be in the future.",
            errors=[{"field": "starts_at", "message": "in the past"}],
        )
    _school, calendar = await get_calendar(session, who, plan.school_id)
    day = data.starts_at.astimezone(calendar.zone).date()
    if data.ends_at.astimezone(calendar.zone).date() != day:
        raise InvalidInput("A visit starts and ends on the same school day.")
    if not calendar.is_school_day(day):
        closure = calendar.closure_on(day)
        why = f" ({closure.name})" if closure is not None else ""
        raise InvalidInput(
            f"The school is closed on {day:%A %d %B %Y}{why}: choose a school day.",
            errors=[{"field": "starts_at", "message": "not a school day"}],
        )


async def schedule_visit(
    session: AsyncSession, who: Principal, plan_id: str, data: VisitIn, now: datetime
) -> VisitRow:
    """A visit by the key worker, once the pupil is (partly) back in school."""
    plan = await require_key_worker(session, who, plan_id)
    if Phase(plan.phase) not in VISITING:
        raise Conflict("Visits are planned once the pupil is (partly) back in school.")
    await _check_time(session, who, plan, data, now)
    visit = VisitRow(
        plan_id=plan.id,
        key_worker_id=plan.key_worker_id,
        school_id=plan.school_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        status="planned",
    )
    session.add(visit)
    await session.flush()
    add_event(session, plan, who, "visit", f"Visit planned for {_when(visit)}", now, shared=True)
    return visit


async def _own_visit(
    session: AsyncSession, who: Principal, visit_id: str
) -> tuple[PlanRow, VisitRow]:
    visit = await session.get(VisitRow, visit_id)
    if visit is None:
        raise NotFound(f"There is no visit {visit_id!r}.")
    plan = await require_key_worker(session, who, visit.plan_id)
    return plan, visit


async def revise_visit(
    session: AsyncSession, who: Principal, visit_id: str, data: VisitIn, now: datetime
) -> VisitRow:
    """Move a planned visit (same rules as planning one)."""
    plan, visit = await _own_visit(session, who, visit_id)
    if visit.status != "planned":
        raise Conflict("Only a planned visit can be moved.")
    await _check_time(session, who, plan, data, now)
    before = _when(visit)
    visit.starts_at, visit.ends_at = data.starts_at, data.ends_at
    visit.revision += 1
    add_event(
        session,
        plan,
        who,
        "visit",
        f"Visit moved from {before} to {_when(visit)}",
        now,
        shared=True,
    )
    return visit


async def record_visit(
    session: AsyncSession, who: Principal, visit_id: str, data: VisitRecordIn, now: datetime
) -> VisitRow:
    """Record a visit's notes once it started (or that it was cancelled)."""
    plan, visit = await _own_visit(session, who, visit_id)
    if visit.status != "planned":
        raise Conflict("This visit has already been recorded.")
    if data.status == "done" and visit.starts_at > now:
        raise InvalidInput("A visit is recorded as done once it has started.")
    visit.status = data.status
    visit.notes = data.notes
    word = "Visit made" if data.status == "done" else "Visit cancelled"
    add_event(session, plan, who, "visit", f"{word}: {_when(visit)}", now, shared=False)
    return visit


def _when(visit: VisitRow) -> str:
    return f"{visit.starts_at:%d %b %Y %H:%M} UTC"


async def visits_of(session: AsyncSession, plan: PlanRow) -> list[VisitRow]:
    """The plan's visits by start."""
    query = select(VisitRow).where(VisitRow.plan_id == plan.id).order_by(VisitRow.starts_at)
    return list(await session.scalars(query))


async def visits_of_key_worker(
    session: AsyncSession, user_id: str
) -> list[tuple[VisitRow, str, str]]:
    """A key worker's planned visits with the pupil's display name and the school's name."""
    rows = await session.execute(
        select(VisitRow, Pupil.first_name, Pupil.last_name, School.name)
        .join(PlanRow, PlanRow.id == VisitRow.plan_id)
        .join(Pupil, Pupil.id == PlanRow.pupil_id)
        .join(School, School.id == VisitRow.school_id)
        .where(VisitRow.key_worker_id == user_id, VisitRow.status == "planned")
        .order_by(VisitRow.starts_at)
    )
    return [(v, f"{first} {last[:1]}.", school) for v, first, last, school in rows.all()]


def _text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def visits_calendar(visits: Iterable[tuple[VisitRow, str, str]], now: datetime) -> bytes:
    """An iCalendar (RFC 5545) document of after-care visits (UTC times, one event each)."""
    stamp = f"{now:%Y%m%dT%H%M%SZ}"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Classbridge//After-care visits//EN"]
    for visit, pupil, school in visits:
        lines += [
            "BEGIN:VEVENT",
            f"UID:visit-{visit.id}@classbridge",
            f"SEQUENCE:{visit.revision}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{visit.starts_at:%Y%m%dT%H%M%SZ}",
            f"DTEND:{visit.ends_at:%Y%m%dT%H%M%SZ}",
            f"SUMMARY:{_text(f'After-care visit: {pupil}')}",
            f"LOCATION:{_text(school)}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()
