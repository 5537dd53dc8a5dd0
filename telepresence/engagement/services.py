"""Use cases of the engagement API and pages: a pupil's lessons and weeks, the coordinator's
summary, alerts, the pupil's own week. Figures come from ``figures`` (aggregate SQL)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.timetables.calendar import SchoolCalendar
from telepresence.engagement import access
from telepresence.engagement.disengagement.signals import calendars, school_days_after
from telepresence.engagement.domain import describe, week_monday
from telepresence.engagement.figures import (
    Breakdown,
    Counts,
    Scope,
    breakdown,
    counts_by,
    move_punctuality,
    summed,
    tally,
    total_of,
    with_trend,
)
from telepresence.engagement.models import AlertRecipientRow, AlertRow, OutcomeRow
from telepresence.engagement.schemas import (
    AlertOut,
    AlertQuery,
    CountsOut,
    DeviceOut,
    MyWeekOut,
    OutcomeOut,
    PupilEngagementOut,
    SummaryOut,
)
from telepresence.platform.errors import NotFound
from telepresence.platform.models import Pupil
from telepresence.platform.security.identity import Principal, Role

__all__ = [
    "LessonOutcome",
    "counts_out",
    "list_alerts",
    "my_week",
    "outcome_out",
    "pupil_engagement",
    "pupil_outcomes",
    "pupil_report",
    "summary",
]

Out = OutcomeRow
DEFAULT_TEACHING = timedelta(hours=5)


def counts_out(c: Counts, key: str | None = None) -> CountsOut:
    """The API shape of a group's counts."""
    share = c.share
    return CountsOut(
        key=key if key is not None else str(c.key[-1]) if c.key else "",
        booked=c.booked,
        joined=c.joined,
        attended=c.attended,
        partial=c.partial,
        missed=c.missed,
        cancelled=c.cancelled,
        minutes=c.minutes,
        booked_minutes=round(c.booked_seconds / 60),
        share=round(share, 4) if share is not None else None,
        trend=c.trend,
    )


@dataclass(frozen=True, slots=True)
class LessonOutcome:
    """One finished lesson's outcome as the API, pages and exports show it: the columns of
    ``engagement_outcomes`` they read, as a plain value (no ORM identity or change tracking
    for a read of a term's lessons)."""

    booking_id: str
    pupil_id: str
    subject: str
    lesson_date: date
    starts_at: datetime
    outcome: str
    reason: str | None
    present_seconds: int
    booked_seconds: int
    first_join: datetime | None
    last_leave: datetime | None
    gaps: int
    reconnects: int
    hands_raised: int
    camera_seconds: int
    quality: str
    move_id: str | None


_LESSON_COLUMNS = [getattr(Out, f.name) for f in fields(LessonOutcome)]
_REPORT = (
    select(Pupil.id, Pupil.first_name, Pupil.last_name, *_LESSON_COLUMNS)
    .outerjoin(
        Out,
        (Out.pupil_id == Pupil.id)
        & (Out.provider_id == Pupil.provider_id)
        & (Out.lesson_date >= bindparam("wide_first"))
        & (Out.lesson_date <= bindparam("end")),
    )
    .where(Pupil.id == bindparam("pupil"), Pupil.provider_id == bindparam("provider"))
    .order_by(Out.subject, Out.starts_at)  # subjects in the database's order, as counts_by
)
_REPORT_OF_KEY_WORKER = _REPORT.where(Pupil.key_worker_id == bindparam("me"))


def outcome_out(r: LessonOutcome) -> OutcomeOut:
    """The API shape of one lesson's outcome."""
    return OutcomeOut(
        booking_id=r.booking_id,
        pupil_id=r.pupil_id,
        subject=r.subject,
        lesson_date=r.lesson_date,
        starts_at=r.starts_at,
        outcome=r.outcome,
        reason=r.reason,
        description=describe(r.outcome, r.reason, r.present_seconds, r.booked_seconds),
        booked_minutes=round(r.booked_seconds / 60),
        present_minutes=round(r.present_seconds / 60),
        first_join=r.first_join,
        last_leave=r.last_leave,
        gaps=r.gaps,
        reconnects=r.reconnects,
        hands_raised=r.hands_raised,
        camera_minutes=round(r.camera_seconds / 60),
        quality=r.quality,
        move_id=r.move_id,
    )


async def pupil_outcomes(
    db: AsyncSession, who: Principal, pupil_id: str, start: date, end: date
) -> list[LessonOutcome]:
    """The pupil's finished lessons in the range, oldest first (``NotFound`` if not visible):
    ``pupil_report``'s lessons, so the API, the CSV and the pages read them one way."""
    return (await pupil_report(db, who, pupil_id, start, end))[1]


async def pupil_engagement(
    db: AsyncSession, who: Principal, pupil_id: str, start: date, end: date
) -> PupilEngagementOut:
    """The pupil's weeks (trend against their own earlier weeks) and subjects in the range
    (``NotFound`` if not visible): ``pupil_report``'s figures, as the pupil's page shows them."""
    return (await pupil_report(db, who, pupil_id, start, end))[0]


async def pupil_report(
    db: AsyncSession, who: Principal, pupil_id: str, start: date, end: date
) -> tuple[PupilEngagementOut, list[LessonOutcome]]:
    """``pupil_engagement`` and ``pupil_outcomes`` together (the pupil's page, the home-school
    report) in one round trip: the pupil, if the caller may see them (the access check),
    joined to their outcomes from four weeks before the range's week (for the trend) to its
    end, summed here (a term is a hundred lessons). ``NotFound`` if not visible."""
    if who.role not in (Role.ADMIN, Role.COORDINATOR, Role.HOSPITAL_STAFF):
        await access.visible_pupil(db, who, pupil_id)  # raises: no pupils for this role
    query = _REPORT_OF_KEY_WORKER if who.role is Role.HOSPITAL_STAFF else _REPORT
    values = {
        "pupil": pupil_id,
        "provider": who.provider_id,
        "me": who.subject_id,
        "wide_first": start - timedelta(days=start.weekday(), weeks=4),
        "end": end,
    }
    rows = (await db.execute(query, values)).all()
    if not rows:
        await access.visible_pupil(db, who, pupil_id)  # says why (another's, or none)
        raise NotFound(f"There is no pupil {pupil_id!r}.")  # pragma: no cover - a race
    weeks: dict[Any, list[int]] = {}
    subjects: dict[Any, list[int]] = {}  # first seen = the database's order of subjects
    lessons = []
    for row in rows:
        if row[3] is None:
            continue  # the pupil without outcomes in the dates (the outer join's one row)
        lesson = LessonOutcome(*row[3:])
        values_ = tally(lesson.outcome, lesson.present_seconds, lesson.booked_seconds)
        summed(weeks, (pupil_id, week_monday(lesson.lesson_date)), values_)
        if lesson.lesson_date >= start:
            summed(subjects, lesson.subject, values_)
            lessons.append(lesson)
    lessons.sort(key=lambda r: r.starts_at)
    first_name, last_name = rows[0][1], rows[0][2]
    engagement = _engagement_out(
        pupil_id,
        f"{first_name} {last_name}",
        start,
        end,
        [Counts((k,), *v) for k, v in subjects.items()],
        with_trend([Counts(k, *weeks[k]) for k in sorted(weeks)]),
    )
    return engagement, lessons


def _engagement_out(
    pupil_id: str, name: str, start: date, end: date, subjects: list[Counts], weeks: list[Counts]
) -> PupilEngagementOut:
    shown = [w for w in weeks if w.key[1] >= week_monday(start)]
    total = total_of(subjects)  # every lesson has one subject: no third scan
    return PupilEngagementOut(
        pupil_id=pupil_id,
        name=name,
        start=start,
        end=end,
        total=counts_out(total, "total"),
        weeks=[counts_out(w, w.key[1].isoformat()) for w in shown],
        subjects=[counts_out(s) for s in subjects],
    )


def _teaching_seconds(calendar: SchoolCalendar | None) -> float:
    if calendar is None or not calendar.bell_times:
        return DEFAULT_TEACHING.total_seconds()
    day = date(2000, 1, 3)
    return sum(
        (datetime.combine(day, b.end) - datetime.combine(day, b.start)).total_seconds()
        for b in calendar.bell_times
    )


async def _last_used(
    db: AsyncSession, provider_id: str, robot_ids: list[str], known: dict[str, date]
) -> dict[str, date]:
    """The last day each robot carried a lesson the pupil joined: ``known`` (from the scope's
    figures) or, for the robots not used in the scope, looked up by index before it."""
    missing = [robot_id for robot_id in robot_ids if robot_id not in known]
    if not missing:
        return known
    query = (
        select(Out.device_id, func.max(Out.lesson_date))
        .where(
            Out.provider_id == provider_id,
            Out.present_seconds > 0,
            Out.device_id.in_(missing),
        )
        .group_by(Out.device_id)
    )
    return dict((await db.execute(query)).all()) | known


async def _devices(
    db: AsyncSession,
    scope: Scope,
    today: date,
    cals: dict[str, SchoolCalendar],
    figures: Breakdown,
) -> list[DeviceOut]:
    robots = select(Device.id, Device.name, Device.school_id, Device.created_at).where(
        Device.provider_id == scope.provider_id,
        Device.kind == "robot",
        Device.lifecycle == "active",
    )
    if scope.school_id:
        robots = robots.where(Device.school_id == scope.school_id)
    rows = (await db.execute(robots.order_by(Device.name))).all()
    used = {c.key[0]: c for c in figures.devices}
    last = await _last_used(db, scope.provider_id, [r[0] for r in rows], figures.last_used)
    # Robots of one school share their school days: count each span once, not once a robot.
    spans: dict[tuple[str, date, date], int] = {}

    def school_days(school_id: str, since: date, until: date) -> int:
        key = (school_id, since, until)
        if key not in spans:
            spans[key] = school_days_after(cals.get(school_id), since, until)
        return spans[key]

    out = []
    for robot_id, name, school_id, created_at in rows:
        school = school_id or ""
        days = school_days(school, scope.first - timedelta(days=1), min(scope.last, today))
        counts = used.get(robot_id, Counts((robot_id,)))
        capacity = days * _teaching_seconds(cals.get(school))
        since = last.get(robot_id) or max(created_at.date(), scope.first) - timedelta(days=1)
        out.append(
            DeviceOut(
                device_id=robot_id,
                name=name,
                school_id=school_id,
                lessons=counts.joined,
                minutes=counts.minutes,
                utilisation=round(counts.present_seconds / capacity, 4) if capacity else None,
                last_used=last.get(robot_id),
                unused_school_days=school_days(school, since, today - timedelta(days=1)),
            )
        )
    return out


async def summary(
    db: AsyncSession,
    who: Principal,
    scope: Scope,
    today: date,
    figures: Breakdown | None = None,
) -> SummaryOut:
    """The coordinator's page in figures, for the pupils the caller may see.

    ``figures``: the scope's ``breakdown`` when the caller has it already (the dashboard
    reads the outcomes once for this and its own weekly figures).
    """
    scope = await access.narrowed(db, who, scope)
    figures = figures or await breakdown(db, scope)
    cals = await calendars(db, scope.provider_id)
    school_ids = [scope.school_id] if scope.school_id else list(cals)
    devices = await _devices(db, scope, today, cals, figures) if scope.pupil_ids is None else []
    alerts = select(func.count()).where(
        AlertRow.provider_id == scope.provider_id, AlertRow.status != "resolved"
    )
    if scope.pupil_ids is not None:
        alerts = alerts.where(AlertRow.pupil_id.in_(sorted(scope.pupil_ids)))
    return SummaryOut(
        start=scope.first,
        end=scope.last,
        provider=counts_out(figures.provider, "provider"),
        pupils=[counts_out(c) for c in figures.pupils],
        schools=[counts_out(c) for c in figures.schools],
        devices=devices,
        moves=await move_punctuality(db, school_ids, scope.first, scope.last, scope.pupil_ids),
        open_alerts=int(await db.scalar(alerts) or 0),
    )


async def list_alerts(db: AsyncSession, who: Principal, query: AlertQuery) -> list[AlertOut]:
    """Alerts sent to the caller (all of their provider's for admins), newest first."""
    stmt = (
        select(AlertRow, Pupil)
        .join(Pupil, Pupil.id == AlertRow.pupil_id)
        .where(AlertRow.provider_id == who.provider_id)
    )
    if who.role is not Role.ADMIN:
        stmt = stmt.join(
            AlertRecipientRow,
            (AlertRecipientRow.alert_id == AlertRow.id)
            & (AlertRecipientRow.user_id == who.subject_id),
        )
    if query.status == "unresolved":
        stmt = stmt.where(AlertRow.status != "resolved")
    elif query.status != "all":
        stmt = stmt.where(AlertRow.status == query.status)
    if query.pupil_id:
        await access.visible_pupil(db, who, query.pupil_id)
        stmt = stmt.where(AlertRow.pupil_id == query.pupil_id)
    stmt = stmt.order_by(AlertRow.opened_at.desc(), AlertRow.id).limit(query.limit)
    return [alert_out(a, p) for a, p in (await db.execute(stmt)).all()]


def alert_out(alert: AlertRow, pupil: Pupil) -> AlertOut:
    """The API shape of an alert."""
    return AlertOut(
        id=alert.id,
        pupil_id=alert.pupil_id,
        pupil_name=f"{pupil.first_name} {pupil.last_name}",
        rule=alert.rule,
        subject=alert.subject_key,
        status=alert.status,
        summary=alert.summary,
        figures=alert.figures,
        opened_at=alert.opened_at,
        acknowledged_at=alert.acknowledged_at,
        resolved_at=alert.resolved_at,
        note=alert.note,
    )


async def my_week(db: AsyncSession, pupil_id: str, provider_id: str, today: date) -> MyWeekOut:
    """The pupil's own school week so far, in words for a child."""
    monday = week_monday(today)
    scope = Scope(provider_id, monday, today, frozenset({pupil_id}))
    rows = await counts_by(db, scope, Out.pupil_id)
    c = rows[0] if rows else Counts(())
    if c.joined == 0:
        text = "No lessons joined yet this week." if c.booked else "No lessons this week yet."
    else:
        text = f"You joined {c.joined} lesson{'s' if c.joined != 1 else ''} this week"
        text += f" ({c.minutes} minutes)."
    return MyWeekOut(joined=c.joined, booked=c.booked, minutes=c.minutes, text=text)
