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

from sqlalchemy import ColumnElement, Select, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from scheduler.rota.models import MoveRow
from telepresence.engagement.models import OutcomeRow, SubjectWeekRow, WeeklyRow

__all__ = [
    "Breakdown",
    "Counts",
    "Scope",
    "WeekShare",
    "breakdown",
    "counts_by",
    "last_joined_by_pupil",
    "last_used_by_device",
    "move_punctuality",
    "pupil_weeks",
    "subject_counts",
    "summed",
    "tally",
    "total_of",
    "trends",
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
        for row, trend in zip(rows, trends(shares, previous), strict=True):
            row.trend = trend
    return weeks


def trends(shares: Sequence[float | None], previous: int = 4) -> list[float | None]:
    """Each week's share (oldest first) minus the mean share of the ``previous`` weeks before it
    that have one, rounded to 4 places; None without a share on both sides."""
    out: list[float | None] = [None] * len(shares)
    for i, share in enumerate(shares):
        if share is None or i == 0:
            continue
        before = [s for s in shares[max(0, i - previous) : i] if s is not None]
        if before:
            out[i] = round(share - sum(before) / len(before), 4)
    return out


WeekShare = tuple[float | None, float | None]
"""A pupil's school week as the dashboard draws it: (share, trend)."""


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
    db: AsyncSession,
    school_ids: Sequence[str],
    first: date,
    last: date,
    pupil_ids: frozenset[str] | None = None,
) -> dict[str, dict[str, int]]:
    """Per school: moves done on time, late, failed (or escalated), and still open; with
    ``pupil_ids``, only the moves of those pupils' lessons."""
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
    if pupil_ids is not None:
        query = query.where(MoveRow.pupil_id.in_(sorted(pupil_ids)))
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

    ``weeks``: per pupil, their weeks by monday (oldest first) with share and trend (as
    ``with_trend``),
    including the weeks before the scope asked for (for the trend); the rest count lessons in
    the scope's dates only.
    """

    weeks: dict[str, dict[date, WeekShare]]
    pupils: list[Counts]
    schools: list[Counts]
    devices: list[Counts]
    mondays: list[Counts]
    provider: Counts
    last_used: dict[str, date]  # device -> last lesson date with the pupil present (in scope)


def tally(outcome: str, present_seconds: int, booked_seconds: int) -> list[int]:
    """One outcome's counts, as ``Counts`` holds them (the same sums as ``_tally``'s SQL)."""
    live = outcome != "cancelled"
    return [
        int(live),
        int(present_seconds > 0),
        int(outcome == "attended"),
        int(outcome == "partial"),
        int(outcome == "missed"),
        int(not live),
        present_seconds,
        booked_seconds if live else 0,
    ]


def summed(into: dict[Any, list[int]], key: Any, values: list[int]) -> None:
    """Add ``values`` to ``into[key]`` (plain lists: this runs once per group of a term)."""
    acc = into.get(key)
    if acc is None:
        into[key] = values  # never changed in place (see below): shared safely, not copied
    else:
        into[key] = list(map(operator.add, acc, values))


def _counts(groups: dict[Any, list[int]], key: Callable[[Any], tuple[Any, ...]]) -> list[Counts]:
    return [Counts(key(k), *groups[k]) for k in sorted(groups)]


async def breakdown(db: AsyncSession, scope: Scope, *, weeks_before: int = 4) -> Breakdown:
    """Per pupil-week (with trend), pupil, school, device, week and provider.

    Read from the rollup ``engagement_weekly`` (a row per pupil, week, school and robot:
    about 26,000 for a term of 2,000 pupils, against 150,000 outcomes): its rows as they are
    for the weeks (the trend), summed in SQL for the rest. A row whose lessons lie partly
    inside the scope's dates and partly outside (a range that starts or ends mid-week) is
    read from the outcomes instead, grouped the same way with "in the dates or not", so the
    figures are exactly those of the outcomes in the dates.
    """
    wide_first = scope.first - timedelta(days=scope.first.weekday(), weeks=weeks_before)
    first, last = scope.first, scope.last
    conn = await db.connection()  # Core rows: no ORM bookkeeping for 26,000 of them
    seconds: dict[str, dict[date, list[int]]] = {}  # pupil -> monday -> [present, booked]
    for pupil, monday, present, booked in await conn.execute(
        _summed_rows(scope, wide_first, (_W.pupil_id, _W.week_monday), columns=_SHARE_SUMS).where(
            _W.first_lesson <= last, ~_straddles(first, last)
        )
    ):  # unordered: sorting each pupil's weeks here is cheaper than PostgreSQL's sort of all
        mine = seconds.get(pupil)
        if mine is None:
            seconds[pupil] = mine = {}
        mine[monday] = [present, booked]
    keys: Any = select(_W.pupil_id, _W.week_monday, _W.school_id, _W.device_id)
    straddling = {
        tuple(row)
        for row in await conn.execute(
            _in_scope(keys, scope, wide_first).where(
                _W.first_lesson <= last, _straddles(first, last)
            )
        )
    }
    inside = (_W.first_lesson >= first, _W.last_lesson <= last)
    places: dict[Any, list[int]] = {}  # (pupil, school, device), in the scope's dates
    last_used: dict[str, date] = {}
    group = (_W.pupil_id, _W.school_id, _W.device_id)
    query = _summed_rows(scope, first, group, func.max(_W.last_present)).where(*inside)
    for row in await conn.execute(query):
        places[tuple(row[:3])] = [*row[3:11]]
        _later(last_used, row[2], row[11])
    mondays = {
        row[0]: [*row[1:]]
        for row in await conn.execute(_summed_rows(scope, first, (_W.week_monday,)).where(*inside))
    }
    if straddling:
        await _straddling(conn, scope, wide_first, straddling, seconds, places, mondays, last_used)
    pupils: dict[Any, list[int]] = {}
    schools: dict[Any, list[int]] = {}
    devices: dict[Any, list[int]] = {}
    total: dict[Any, list[int]] = {}
    for (pupil, school, device), values in places.items():
        summed(pupils, pupil, values)
        summed(schools, school, values)
        summed(devices, device, values)
        summed(total, "provider", values)
    return Breakdown(
        weeks={pupil: _week_shares(mine) for pupil, mine in seconds.items()},
        pupils=_counts(pupils, lambda k: (k,)),
        schools=_counts(schools, lambda k: (k,)),
        devices=_counts(devices, lambda k: (k,)),
        mondays=_counts(mondays, lambda k: (k,)),
        provider=Counts(("provider",), *total.get("provider", [0] * 8)),
        last_used=last_used,
    )


def _week_shares(seconds: dict[date, list[int]]) -> dict[date, WeekShare]:
    """A pupil's weeks (present and booked seconds by monday), oldest first, with share and
    trend."""
    mondays = sorted(seconds)
    shares = [p / b if b else None for p, b in (seconds[m] for m in mondays)]
    return dict(zip(mondays, zip(shares, trends(shares), strict=True), strict=True))


def _straddles(first: date, last: date) -> ColumnElement[bool]:
    """A rollup row whose lessons lie partly inside ``first``..``last`` and partly outside."""
    return or_(_W.last_lesson > last, (_W.first_lesson < first) & (_W.last_lesson >= first))


def _later(into: dict[str, date], key: str, day: date | None) -> None:
    if day is not None and (key not in into or day > into[key]):
        into[key] = day


async def _straddling(
    conn: AsyncConnection,
    scope: Scope,
    wide_first: date,
    keys: set[tuple[Any, ...]],
    seconds: dict[str, dict[date, list[int]]],
    places: dict[Any, list[int]],
    mondays: dict[Any, list[int]],
    last_used: dict[str, date],
) -> None:
    """Add the rollup rows (pupil, week, school, device) that lie partly inside the scope's
    dates, from the outcomes: grouped by the same and "in the dates or not"."""
    inside = case((Out.lesson_date >= scope.first, literal(True)), else_=literal(False))
    group = (Out.pupil_id, Out.week_monday, Out.school_id, Out.device_id, inside)
    used = func.max(case((Out.present_seconds > 0, Out.lesson_date)))
    pupils = sorted({key[0] for key in keys})
    edges = sorted({key[1] for key in keys})
    wide = Scope(scope.provider_id, wide_first, scope.last, None, scope.school_id)
    for start in range(0, len(pupils), _PUPILS_PER_QUERY):
        query = (
            _tally(group)
            .add_columns(used)
            .where(
                *wide.where(),
                Out.pupil_id.in_(pupils[start : start + _PUPILS_PER_QUERY]),
                Out.week_monday.in_(edges),
                Out.lesson_date >= edges[0],
                Out.lesson_date <= edges[-1] + timedelta(days=6),
            )
        )
        for row in await conn.execute(query):
            pupil, monday, school, device, in_scope = row[:5]
            if (pupil, monday, school, device) not in keys:
                continue
            values = [*row[5:13]]
            mine = seconds.setdefault(pupil, {})
            had = mine.get(monday, [0, 0])
            mine[monday] = [had[0] + values[6], had[1] + values[7]]
            if in_scope:
                summed(places, (pupil, school, device), values)
                summed(mondays, monday, values)
                _later(last_used, device, row[13])


_PUPILS_PER_QUERY = 2000
_W = WeeklyRow
_SHARE_SUMS = (_W.present_seconds, _W.booked_seconds)
_SUMS = (
    _W.booked, _W.joined, _W.attended, _W.partial, _W.missed, _W.cancelled,
    _W.present_seconds, _W.booked_seconds,
)  # fmt: skip


def _summed_rows(
    scope: Scope,
    first: date,
    group: Sequence[Grouping],
    *extra: ColumnElement[Any],
    columns: Sequence[Grouping] = (),
) -> Select[Any]:
    """The rollup's sums (of ``columns``, default all eight) grouped by ``group`` (rows from
    ``first``'s week on)."""
    summed = [func.sum(c) for c in columns or _SUMS]
    query = select(*group, *summed, *extra).group_by(*group)
    return _in_scope(query, scope, first - timedelta(days=first.weekday()))


def _in_scope(query: Select[Any], scope: Scope, first_monday: date) -> Select[Any]:
    query = query.where(
        _W.provider_id == scope.provider_id,
        _W.week_monday >= first_monday,
        _W.week_monday <= scope.last,
    )
    if scope.pupil_ids is not None:
        query = query.where(_W.pupil_id.in_(sorted(scope.pupil_ids)))
    if scope.school_id is not None:
        query = query.where(_W.school_id == scope.school_id)
    return query


async def subject_counts(db: AsyncSession, scope: Scope) -> list[Counts]:
    """Counts per subject in the scope, ordered by subject: from the rollup
    ``engagement_subject_weeks`` (per school, week and subject) for a whole provider or school,
    with the rows that lie partly outside the dates read from the outcomes instead; from the
    outcomes for some pupils (a key worker's, one pupil's: few rows, by the pupil index)."""
    if scope.pupil_ids is not None:
        return await counts_by(db, scope, Out.subject)
    S = SubjectWeekRow  # noqa: N806 - a table's short name, as Out
    query = select(
        S.school_id, S.week_monday, S.subject, S.first_lesson, S.last_lesson,
        S.booked, S.joined, S.attended, S.partial, S.missed, S.cancelled,
        S.present_seconds, S.booked_seconds,
    ).where(
        S.provider_id == scope.provider_id,
        S.week_monday >= scope.first - timedelta(days=scope.first.weekday()),
        S.week_monday <= scope.last,
    )  # fmt: skip
    if scope.school_id is not None:
        query = query.where(S.school_id == scope.school_id)
    subjects: dict[Any, list[int]] = {}
    straddling: set[tuple[Any, ...]] = set()
    for row in (await db.execute(query)).all():
        first_lesson, last_lesson = row[3], row[4]
        if last_lesson < scope.first or first_lesson > scope.last:
            continue
        if first_lesson < scope.first or last_lesson > scope.last:
            straddling.add(tuple(row[:3]))
        else:
            summed(subjects, row[2], [*row[5:]])
    if straddling:
        group = (Out.school_id, Out.week_monday, Out.subject)
        raw = _tally(group).where(
            *scope.where(),
            Out.school_id.in_(sorted({key[0] for key in straddling})),
            Out.week_monday.in_(sorted({key[1] for key in straddling})),
        )
        for edge in (await db.execute(raw)).all():
            if tuple(edge[:3]) in straddling:
                summed(subjects, edge[2], [*edge[3:]])
    return _counts(subjects, lambda k: (k,))


def total_of(groups: Sequence[Counts], key: tuple[Any, ...] = ()) -> Counts:
    """The sum of some groups' counts (no trend): the total of a grouping that covers every
    outcome once (subjects, schools) without one more scan of the outcomes."""
    total: dict[Any, list[int]] = {}
    for c in groups:
        values = [
            c.booked, c.joined, c.attended, c.partial, c.missed, c.cancelled,
            c.present_seconds, c.booked_seconds,
        ]  # fmt: skip
        summed(total, key, values)
    return Counts(key, *total.get(key, [0] * 8))
