"""Engagement figures as aggregate SQL over the outcomes (SQLAlchemy Core, SQLite and PostgreSQL).

Nothing here loads session events: every figure is a ``GROUP BY`` over
``engagement_outcomes`` (one row per finished booking), or over the rota's
moves for punctuality. The few sums that need a calendar (school days,
teaching time) are done in Python on the grouped rows.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from scheduler.rota.models import MoveRow
from telepresence.engagement.models import OutcomeRow

__all__ = [
    "Breakdown",
    "Counts",
    "Scope",
    "breakdown",
    "counts_by",
    "last_joined_by_pupil",
    "last_used_by_device",
    "move_punctuality",
    "pupil_weeks",
    "subjects_and_weeks",
    "total_of",
    "week_shares",
    "with_trend",
]

Out = OutcomeRow
Grouping = ColumnElement[Any] | InstrumentedAttribute[Any]


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose figures: a provider, optionally narrowed to some pupils, a school, a date range."""

    provider_id: str
    first: date
    last: date
    pupil_ids: frozenset[str] | None = None  # None: every pupil of the provider
    school_id: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        """The conditions on ``engagement_outcomes`` this scope stands for."""
        conditions = [
            Out.provider_id == self.provider_id,
            Out.lesson_date >= self.first,
            Out.lesson_date <= self.last,
        ]
        if self.pupil_ids is not None:
            conditions.append(Out.pupil_id.in_(sorted(self.pupil_ids)))
        if self.school_id is not None:
            conditions.append(Out.school_id == self.school_id)
        return conditions


@dataclass(slots=True)
class Counts:
    """Lessons and minutes of one group (a pupil's week, a subject, a school, a device)."""

    key: tuple[Any, ...]
    booked: int = 0
    joined: int = 0
    attended: int = 0
    partial: int = 0
    missed: int = 0
    cancelled: int = 0
    present_seconds: int = 0
    booked_seconds: int = 0
    trend: float | None = field(default=None)

    @property
    def minutes(self) -> int:
        """Minutes present, rounded."""
        return round(self.present_seconds / 60)

    @property
    def share(self) -> float | None:
        """Share of booked (not cancelled) time present; None when nothing was booked."""
        return self.present_seconds / self.booked_seconds if self.booked_seconds else None


def _tally(group: Sequence[Grouping]) -> Select[Any]:
    live = Out.outcome != "cancelled"

    def count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((condition, 1), else_=0))

    return select(
        *group,
        count(live),
        count(Out.present_seconds > 0),
        count(Out.outcome == "attended"),
        count(Out.outcome == "partial"),
        count(Out.outcome == "missed"),
        count(Out.outcome == "cancelled"),
        func.sum(Out.present_seconds),
        func.sum(case((live, Out.booked_seconds), else_=0)),
    ).group_by(*group)


async def counts_by(db: AsyncSession, scope: Scope, *group: Grouping) -> list[Counts]:
    """Counts grouped by the given outcome columns (e.g. ``Out.pupil_id, Out.week_monday``)."""
    query = _tally(group).where(*scope.where()).order_by(*group)
    out = []
    width = len(group)
    for row in (await db.execute(query)).all():
        values = [int(v or 0) for v in row[width:]]
        out.append(Counts(tuple(row[:width]), *values))
    return out


async def week_shares(db: AsyncSession, scope: Scope) -> list[Counts]:
    """Per pupil and school week only the seconds present and booked (not cancelled), for
    shares and trends of many pupils at once: two sums instead of ``counts_by``'s eight."""
    live = Out.outcome != "cancelled"
    query = (
        select(
            Out.pupil_id,
            Out.week_monday,
            func.sum(Out.present_seconds),
            func.sum(case((live, Out.booked_seconds), else_=0)),
        )
        .where(*scope.where())
        .group_by(Out.pupil_id, Out.week_monday)
    )
    return [
        Counts((pupil, monday), present_seconds=int(present or 0), booked_seconds=int(booked or 0))
        for pupil, monday, present, booked in (await db.execute(query)).all()
    ]


async def pupil_weeks(db: AsyncSession, scope: Scope) -> list[Counts]:
    """Per pupil and school week, oldest week first, each with its trend (see ``with_trend``)."""
    return with_trend(await counts_by(db, scope, Out.pupil_id, Out.week_monday))


def with_trend(weeks: list[Counts], previous: int = 4) -> list[Counts]:
    """Set each week's ``trend``: its share minus the mean share of the pupil's ``previous``
    weeks before it (None without a share on both sides). ``weeks`` keyed (pupil, monday)."""
    by_pupil: dict[Any, list[Counts]] = {}
    for week in weeks:
        by_pupil.setdefault(week.key[0], []).append(week)
    for rows in by_pupil.values():
        rows.sort(key=lambda c: c.key[1])
        shares = [c.present_seconds / c.booked_seconds if c.booked_seconds else None for c in rows]
        for i, share in enumerate(shares):
            if share is None or i == 0:
                continue
            before = [s for s in shares[max(0, i - previous) : i] if s is not None]
            if before:
                rows[i].trend = round(share - sum(before) / len(before), 4)
    return weeks


async def last_used_by_device(db: AsyncSession, provider_id: str, until: date) -> dict[str, date]:
    """The last date each device carried a lesson the pupil was present in."""
    query = (
        select(Out.device_id, func.max(Out.lesson_date))
        .where(Out.provider_id == provider_id, Out.present_seconds > 0, Out.lesson_date <= until)
        .group_by(Out.device_id)
    )
    return dict((await db.execute(query)).all())


async def last_joined_by_pupil(db: AsyncSession, provider_id: str, until: date) -> dict[str, date]:
    """The last date each pupil was present in a lesson."""
    query = (
        select(Out.pupil_id, func.max(Out.lesson_date))
        .where(Out.provider_id == provider_id, Out.present_seconds > 0, Out.lesson_date <= until)
        .group_by(Out.pupil_id)
    )
    return dict((await db.execute(query)).all())


async def move_punctuality(
    db: AsyncSession, school_ids: Sequence[str], first: date, last: date
) -> dict[str, dict[str, int]]:
    """Per school: moves done on time, late, failed (or escalated), and still open."""
    if not school_ids:
        return {}
    done = MoveRow.status == "done"
    on_time = done & (MoveRow.confirmed_at <= MoveRow.due)
    failed = MoveRow.status.in_(("failed", "escalated"))

    def count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((condition, 1), else_=0))

    query = (
        select(
            MoveRow.school_id,
            count(on_time),
            count(done & ~on_time),
            count(failed),
            count(~done & ~failed),
        )
        .where(
            MoveRow.school_id.in_(list(school_ids)),
            MoveRow.local_date >= first,
            MoveRow.local_date <= last,
        )
        .group_by(MoveRow.school_id)
    )
    return {
        school: {
            "on_time": int(a or 0),
            "late": int(b or 0),
            "failed": int(c or 0),
            "open": int(d or 0),
        }
        for school, a, b, c, d in (await db.execute(query)).all()
    }


@dataclass(slots=True)
class Breakdown:
    """The figures of a scope from one scan of the outcomes (see ``breakdown``).

    ``weeks``: per (pupil, monday) with their trend, including the weeks before the
    scope asked for (for the trend); the rest count lessons in the scope's dates only.
    """

    weeks: list[Counts]
    pupils: list[Counts]
    schools: list[Counts]
    devices: list[Counts]
    mondays: list[Counts]
    provider: Counts
    last_used: dict[str, date]  # device -> last lesson date with the pupil present (in scope)


def _summed(into: dict[Any, list[int]], key: Any, values: list[int]) -> None:
    """Add ``values`` to ``into[key]`` (plain lists: this runs once per group of a term)."""
    acc = into.get(key)
    if acc is None:
        into[key] = values  # never changed in place (see below): shared safely, not copied
    else:
        into[key] = list(map(operator.add, acc, values))


def _counts(groups: dict[Any, list[int]], key: Callable[[Any], tuple[Any, ...]]) -> list[Counts]:
    return [Counts(key(k), *groups[k]) for k in sorted(groups)]


async def breakdown(db: AsyncSession, scope: Scope, *, weeks_before: int = 4) -> Breakdown:
    """Per pupil-week (with trend), pupil, school, device, week and provider in one query.

    One ``GROUP BY`` over (pupil, week, school, device, in the scope's dates or not)
    reads the outcomes once (about 26,000 groups for a term of 2,000 pupils, against
    150,000 outcomes) and the roll-ups are summed here, instead of one scan of the
    outcomes per grouping.
    """
    wide = Scope(
        scope.provider_id,
        scope.first - timedelta(days=scope.first.weekday(), weeks=weeks_before),
        scope.last,
        scope.pupil_ids,
        scope.school_id,
    )
    inside = case((Out.lesson_date >= scope.first, literal(True)), else_=literal(False))
    group = (Out.pupil_id, Out.week_monday, Out.school_id, Out.device_id, inside)
    used = func.max(case((Out.present_seconds > 0, Out.lesson_date)))
    query = _tally(group).add_columns(used).where(*wide.where())
    weeks: dict[Any, list[int]] = {}
    places: dict[Any, list[int]] = {}  # (pupil, school, device), in the scope's dates
    mondays: dict[Any, list[int]] = {}
    last_used: dict[str, date] = {}
    for row in (await db.execute(query)).all():
        pupil, monday, school, device, in_scope = row[:5]
        values = [*row[5:13]]  # sums of at least one non-null integer: never None
        _summed(weeks, (pupil, monday), values)
        if not in_scope:
            continue
        _summed(places, (pupil, school, device), values)
        _summed(mondays, monday, values)
        if row[13] is not None and (device not in last_used or row[13] > last_used[device]):
            last_used[device] = row[13]
    pupils: dict[Any, list[int]] = {}
    schools: dict[Any, list[int]] = {}
    devices: dict[Any, list[int]] = {}
    total: dict[Any, list[int]] = {}
    for (pupil, school, device), values in places.items():
        _summed(pupils, pupil, values)
        _summed(schools, school, values)
        _summed(devices, device, values)
        _summed(total, "provider", values)
    return Breakdown(
        weeks=with_trend(_counts(weeks, lambda k: k)),
        pupils=_counts(pupils, lambda k: (k,)),
        schools=_counts(schools, lambda k: (k,)),
        devices=_counts(devices, lambda k: (k,)),
        mondays=_counts(mondays, lambda k: (k,)),
        provider=Counts(("provider",), *total.get("provider", [0] * 8)),
        last_used=last_used,
    )


_INSIDE = case((Out.lesson_date >= bindparam("first"), literal(True)), else_=literal(False))
# Built once (a pupil's page runs it on every view): bound values only, no statement to build.
_PUPIL_SUBJECT_WEEKS = (
    _tally((Out.subject, Out.week_monday, _INSIDE))
    .where(
        Out.provider_id == bindparam("provider"),
        Out.pupil_id == bindparam("pupil"),
        Out.lesson_date >= bindparam("wide_first"),
        Out.lesson_date <= bindparam("last"),
    )
    .order_by(Out.subject, Out.week_monday, _INSIDE)
)


async def subjects_and_weeks(
    db: AsyncSession,
    provider_id: str,
    pupil_id: str,
    first: date,
    last: date,
    weeks_before: int = 4,
) -> tuple[list[Counts], list[Counts]]:
    """One pupil's subjects (``first`` to ``last``, in the database's order of subjects) and
    weeks (keyed (pupil, monday), oldest first, with their trend, including the
    ``weeks_before`` weeks before ``first``'s week), from one ``GROUP BY`` (subject, week,
    in the dates or not) instead of one query per grouping: a pupil's term report is a
    few hundred outcomes, so the round trip costs more than the summing here."""
    wide_first = first - timedelta(days=first.weekday(), weeks=weeks_before)
    values = {
        "provider": provider_id,
        "pupil": pupil_id,
        "first": first,
        "wide_first": wide_first,
        "last": last,
    }
    subjects: dict[Any, list[int]] = {}  # first seen = the database's order of subjects
    weeks: dict[Any, list[int]] = {}
    for row in (await db.execute(_PUPIL_SUBJECT_WEEKS, values)).all():
        subject, monday, in_range = row[:3]
        sums = [*row[3:]]  # sums of at least one non-null integer: never None
        _summed(weeks, (pupil_id, monday), sums)
        if in_range:
            _summed(subjects, subject, sums)
    return (
        [Counts((k,), *v) for k, v in subjects.items()],
        with_trend(_counts(weeks, lambda k: k)),
    )


def total_of(groups: Sequence[Counts], key: tuple[Any, ...] = ()) -> Counts:
    """The sum of some groups' counts (no trend): the total of a grouping that covers every
    outcome once (subjects, schools) without one more scan of the outcomes."""
    total: dict[Any, list[int]] = {}
    for c in groups:
        values = [
            c.booked, c.joined, c.attended, c.partial, c.missed, c.cancelled,
            c.present_seconds, c.booked_seconds,
        ]  # fmt: skip
        _summed(total, key, values)
    return Counts(key, *total.get(key, [0] * 8))
