"""Gathering each pupil's ``PupilSignals`` for the alert rules: aggregate queries, no events.

Windows are counted back from ``today`` (the day the job runs; its lessons
have not happened yet): the last 14 days against the 28 before for the
attendance share; school days come from each school's own calendar.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.bookings.models import Booking
from scheduler.timetables.calendar import SchoolCalendar
from scheduler.timetables.repository import load_calendars
from telepresence.engagement.disengagement.rules import PupilSignals
from telepresence.engagement.figures import Scope, counts_by
from telepresence.engagement.models import OutcomeRow as Out
from telepresence.platform.models import Pupil, School

__all__ = ["calendars", "gather_signals", "school_days_after"]

RECENT_DAYS, EARLIER_DAYS, LOOKBACK_DAYS = 14, 28, 42


async def calendars(db: AsyncSession, provider_id: str) -> dict[str, SchoolCalendar]:
    """Each school of the provider's calendar (every weekday a school day when none is set)."""
    schools = await db.scalars(select(School).where(School.provider_id == provider_id))
    return await load_calendars(db, list(schools))


def school_days_after(calendar: SchoolCalendar | None, since: date, until: date) -> int:
    """School days after ``since`` up to and including ``until``."""
    count, day = 0, since + timedelta(days=1)
    while day <= until:
        if calendar.is_school_day(day) if calendar else day.weekday() < 5:
            count += 1
        day += timedelta(days=1)
    return count


async def _shares(
    db: AsyncSession, provider_id: str, first: date, last: date
) -> dict[str, tuple[float | None, int]]:
    rows = await counts_by(db, Scope(provider_id, first, last), Out.pupil_id)
    return {c.key[0]: (c.share, c.booked_seconds) for c in rows}


async def _last_outcomes(
    db: AsyncSession, provider_id: str, since: date, until: date, n: int = 3
) -> dict[str, list[str]]:
    ranked = (
        select(
            Out.pupil_id,
            Out.outcome,
            func.row_number()
            .over(partition_by=Out.pupil_id, order_by=Out.starts_at.desc())
            .label("rank"),
        )
        .where(
            Out.provider_id == provider_id,
            Out.outcome != "cancelled",
            Out.lesson_date >= since,
            Out.lesson_date <= until,
        )
        .subquery()
    )
    query = select(ranked.c.pupil_id, ranked.c.outcome, ranked.c.rank).where(ranked.c.rank <= n)
    out: dict[str, list[tuple[int, str]]] = {}
    for pupil, outcome, rank in (await db.execute(query)).all():
        out.setdefault(pupil, []).append((rank, outcome))
    return {p: [o for _r, o in sorted(v, reverse=True)] for p, v in out.items()}


async def _since_joined(
    db: AsyncSession, provider_id: str, since: date, until: date
) -> dict[str, tuple[date | None, int]]:
    """Per pupil: the last day present (in the lookback) and lessons booked after it."""
    last = (
        select(Out.pupil_id.label("pupil_id"), func.max(Out.lesson_date).label("day"))
        .where(
            Out.provider_id == provider_id,
            Out.present_seconds > 0,
            Out.lesson_date >= since,
            Out.lesson_date <= until,
        )
        .group_by(Out.pupil_id)
        .subquery()
    )
    booked_after = func.sum(
        case(
            (
                and_(
                    Out.outcome != "cancelled", Out.lesson_date > func.coalesce(last.c.day, since)
                ),
                1,
            ),
            else_=0,
        )
    )
    query = (
        select(Out.pupil_id, func.max(last.c.day), booked_after)
        .outerjoin(last, last.c.pupil_id == Out.pupil_id)
        .where(Out.provider_id == provider_id, Out.lesson_date >= since, Out.lesson_date <= until)
        .group_by(Out.pupil_id)
    )
    return {p: (day, int(n or 0)) for p, day, n in (await db.execute(query)).all()}


async def _bookings(
    db: AsyncSession, pupil_ids: Iterable[str], today: date
) -> dict[str, tuple[int, int]]:
    """Per pupil: live bookings last week and the coming one, and in the four weeks before."""
    recent = Booking.lesson_date >= today - timedelta(days=7)
    live = Booking.status != "cancelled"
    query = (
        select(
            Booking.pupil_id,
            func.sum(case((and_(live, recent), 1), else_=0)),
            func.sum(case((and_(live, ~recent), 1), else_=0)),
        )
        .where(
            Booking.pupil_id.in_(list(pupil_ids)),
            Booking.lesson_date >= today - timedelta(days=35),
            Booking.lesson_date <= today + timedelta(days=7),
        )
        .group_by(Booking.pupil_id)
    )
    return {p: (int(a or 0), int(b or 0)) for p, a, b in (await db.execute(query)).all()}


async def _robots(
    db: AsyncSession, provider_id: str, since: date, until: date
) -> dict[str, tuple[str, date | None, date]]:
    """Per pupil with an assigned robot: its name, last day used (lookback), and since when."""
    used = (
        select(Out.device_id.label("device_id"), func.max(Out.lesson_date).label("day"))
        .where(
            Out.provider_id == provider_id,
            Out.present_seconds > 0,
            Out.lesson_date >= since,
            Out.lesson_date <= until,
        )
        .group_by(Out.device_id)
        .subquery()
    )
    query = (
        select(Device.pupil_id, Device.name, used.c.day, Device.created_at)
        .outerjoin(used, used.c.device_id == Device.id)
        .where(
            Device.provider_id == provider_id,
            Device.kind == "robot",
            Device.lifecycle == "active",
            Device.pupil_id.is_not(None),
        )
    )
    return {
        pupil: (name, day, max(since, created.date()))
        for pupil, name, day, created in (await db.execute(query)).all()
    }


async def gather_signals(db: AsyncSession, provider_id: str, today: date) -> list[PupilSignals]:
    """The signals of every active pupil of the provider, as of the start of ``today``."""
    until = today - timedelta(days=1)
    recent_from = today - timedelta(days=RECENT_DAYS)
    earlier_from = recent_from - timedelta(days=EARLIER_DAYS)
    pupils = (
        await db.execute(
            select(Pupil.id, Pupil.school_id).where(
                Pupil.provider_id == provider_id, Pupil.active.is_(True)
            )
        )
    ).all()
    cals = await calendars(db, provider_id)
    recent = await _shares(db, provider_id, recent_from, until)
    earlier = await _shares(db, provider_id, earlier_from, recent_from - timedelta(days=1))
    outcomes = await _last_outcomes(db, provider_id, earlier_from, until)
    joined = await _since_joined(db, provider_id, earlier_from, until)
    bookings = await _bookings(db, [p for p, _s in pupils], today)
    robots = await _robots(db, provider_id, earlier_from, until)
    out = []
    for pupil_id, school_id in pupils:
        cal = cals.get(school_id)
        facts: dict[str, Any] = {}
        if pupil_id in recent:
            facts["recent_share"], facts["recent_booked_seconds"] = recent[pupil_id]
        if pupil_id in earlier:
            facts["earlier_share"], facts["earlier_booked_seconds"] = earlier[pupil_id]
        if pupil_id in joined:
            day, booked = joined[pupil_id]
            facts["school_days_since_joined"] = school_days_after(
                cal, day or earlier_from - timedelta(days=1), until
            )
            facts["booked_since_joined"] = booked
        if pupil_id in robots:
            name, used, since = robots[pupil_id]
            facts["robot_name"] = name
            facts["robot_unused_school_days"] = school_days_after(cal, used or since, until)
        facts["recent_bookings"], facts["earlier_bookings"] = bookings.get(pupil_id, (0, 0))
        out.append(
            PupilSignals(pupil_id=pupil_id, last_outcomes=outcomes.get(pupil_id, []), **facts)
        )
    return out
