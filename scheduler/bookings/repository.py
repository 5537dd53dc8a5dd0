"""Reading and locking bookings' tables as domain objects: unavailability and bookings.

Who may see which pupil is decided in ``scheduler.timetables.repository``
(``visible_pupil``), which every use case calls first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any, NamedTuple, Protocol

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.bookings.models import Booking, UnavailabilityRow
from scheduler.bookings.unavailability.domain import (
    OneOffUnavailable,
    Unavailable,
    WeeklyUnavailable,
)
from scheduler.timetables.repository import lock_rows
from telepresence.platform.models import Pupil, School
from telepresence.platform.versions import PupilVersion, SchoolVersion

__all__ = [
    "LessonValues",
    "StoredBooking",
    "UnavailabilityColumns",
    "UnavailabilityValues",
    "WeekRows",
    "WeekVersion",
    "lesson_values",
    "live_bookings",
    "load_unavailability",
    "lock_booking",
    "lock_device",
    "locked_devices",
    "unavailable_from_row",
    "week_rows",
    "week_version",
    "week_version_in",
]


async def locked_devices(
    session: AsyncSession, ids: list[str], assigned_to: str | None = None
) -> list[Device]:
    """The devices of ``ids`` and (with ``assigned_to``) the pupil's robots and tablets,
    locked until the transaction ends and read as they are now, in one round trip on
    PostgreSQL (in order of id, so that two bookings lock shared devices in one order)."""
    chosen: ColumnElement[bool] = Device.id.in_(ids)
    if assigned_to is not None:
        chosen = or_(
            chosen, and_(Device.pupil_id == assigned_to, Device.kind.in_(("robot", "tablet")))
        )
    if session.get_bind().dialect.name == "sqlite":
        touch = update(Device).where(chosen).values(lifecycle=Device.lifecycle)
        await session.execute(touch.execution_options(synchronize_session=False))
        query = select(Device).where(chosen).order_by(Device.id)
    else:
        query = select(Device).where(chosen).order_by(Device.id).with_for_update()
    found = await session.scalars(query.execution_options(populate_existing=True))
    return list(found)


async def lock_device(session: AsyncSession, device_id: str) -> None:
    """Hold the device's row until the transaction ends (one booking of a robot at a time)."""
    await lock_rows(
        session,
        update(Device).where(Device.id == device_id).values(lifecycle=Device.lifecycle),
        select(Device.id).where(Device.id == device_id),
    )


async def lock_booking(session: AsyncSession, booking_id: str) -> None:
    """Hold the booking's row until the transaction ends (one cancellation wins)."""
    await lock_rows(
        session,
        update(Booking).where(Booking.id == booking_id).values(status=Booking.status),
        select(Booking.id).where(Booking.id == booking_id),
    )


class UnavailabilityColumns(Protocol):
    """The stored columns of an unavailability: its row, or the plain values of one."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def weekdays(self) -> list[int]: ...
    @property
    def start_time(self) -> time | None: ...
    @property
    def end_time(self) -> time | None: ...
    @property
    def valid_from(self) -> date | None: ...
    @property
    def valid_to(self) -> date | None: ...
    @property
    def starts_at(self) -> datetime | None: ...
    @property
    def ends_at(self) -> datetime | None: ...


def unavailable_from_row(row: UnavailabilityColumns) -> Unavailable:
    """The domain form of a stored unavailability."""
    if row.kind == "weekly" and row.start_time is not None and row.end_time is not None:
        return WeeklyUnavailable(
            id=row.id,
            reason=row.reason,
            weekdays=frozenset(row.weekdays),
            start=row.start_time,
            end=row.end_time,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
        )
    if row.starts_at is None or row.ends_at is None:
        raise ValueError(f"unavailability {row.id} has neither a weekly nor a one-off window")
    return OneOffUnavailable(
        id=row.id, reason=row.reason, starts_at=row.starts_at, ends_at=row.ends_at
    )


async def load_unavailability(session: AsyncSession, pupil_id: str) -> list[UnavailabilityRow]:
    """The pupil's unavailability rows, weekly first, then by creation."""
    rows = await session.scalars(
        select(UnavailabilityRow)
        .where(UnavailabilityRow.pupil_id == pupil_id)
        .order_by(UnavailabilityRow.kind.desc(), UnavailabilityRow.created_at)
    )
    return list(rows)


async def live_bookings(
    session: AsyncSession,
    pupil_ids: Iterable[str],
    *,
    starting_after: datetime | None = None,
    between: tuple[date, date] | None = None,
) -> list[Booking]:
    """Bookings still ``booked`` for the pupils, optionally from an instant or in a date range."""
    query = select(Booking).where(Booking.pupil_id.in_(list(pupil_ids)), Booking.status == "booked")
    if starting_after is not None:
        query = query.where(Booking.starts_at > starting_after)
    if between is not None:
        query = query.where(Booking.lesson_date >= between[0], Booking.lesson_date <= between[1])
    return list(await session.scalars(query.order_by(Booking.starts_at)))


# --- a pupil's week in one statement (PostgreSQL, the pool's asyncpg connection) ---------


class LessonValues(NamedTuple):
    """A lesson's columns."""

    id: str
    key: str
    subject: str
    weekday: int
    start_time: time
    end_time: time
    class_group: str
    teacher: str
    room: str
    week: str | None
    valid_from: date | None
    valid_to: date | None
    excluded_dates: list[str]
    extra_dates: list[str]


class StoredBooking(NamedTuple):
    """A live booking's columns, as the week shows them."""

    id: str
    pupil_id: str
    lesson_key: str
    lesson_date: date
    starts_at: datetime
    ends_at: datetime
    subject: str
    room: str
    classroom_device_id: str
    pupil_device_id: str | None
    status: str
    outcome: str | None
    cancel_reason: str | None
    flagged_reason: str | None


class UnavailabilityValues(NamedTuple):
    """An unavailability's columns."""

    id: str
    kind: str
    reason: str
    weekdays: list[int]
    start_time: time | None
    end_time: time | None
    valid_from: date | None
    valid_to: date | None
    starts_at: datetime | None
    ends_at: datetime | None


WEEK = """
SELECT p.provider_id, p.school_id, s.time_zone, COALESCE(sv.version, 0),
  ARRAY(SELECT ROW(l.id, l.key, l.subject, l.weekday, l.start_time, l.end_time, l.class_group,
                   l.teacher, l.room, l.week, l.valid_from, l.valid_to,
                   l.excluded_dates::text, l.extra_dates::text)
        FROM lessons l WHERE l.pupil_id = p.id ORDER BY l.key),
  ARRAY(SELECT ROW(b.id, b.pupil_id, b.lesson_key, b.lesson_date, b.starts_at, b.ends_at,
                   b.subject, b.room, b.classroom_device_id, b.pupil_device_id, b.status,
                   b.outcome, b.cancel_reason, b.flagged_reason)
        FROM bookings b
        WHERE b.pupil_id = p.id AND b.status = 'booked'
          AND b.lesson_date >= $2 AND b.lesson_date <= $3
        ORDER BY b.starts_at),
  ARRAY(SELECT ROW(u.id, u.kind, u.reason, u.weekdays, u.start_time, u.end_time, u.valid_from,
                   u.valid_to, u.starts_at, u.ends_at)
        FROM unavailability u WHERE u.pupil_id = p.id ORDER BY u.kind DESC, u.created_at)
FROM pupils p
JOIN schools s ON s.id = p.school_id
LEFT JOIN school_versions sv ON sv.school_id = s.id
WHERE p.id = $1
"""


class WeekRows(NamedTuple):
    """What ``week_rows`` read: the pupil's provider and school, the school's zone and data
    version (its calendar's stamp), and the pupil's lessons, live bookings of the dates and
    unavailability."""

    provider_id: str
    school_id: str
    time_zone: str
    stamp: int
    lessons: tuple[tuple[Any, ...], ...]  # as stored (JSON as text): a key to remember them by
    bookings: list[StoredBooking]
    unavailable: list[UnavailabilityValues]


def lesson_values(stored: tuple[Any, ...]) -> LessonValues:
    """A lesson's columns from ``WeekRows.lessons`` (its JSON decoded)."""
    return LessonValues._make([*stored[:12], json.loads(stored[12]), json.loads(stored[13])])


async def week_rows(conn: Any, pupil_id: str, from_date: date, to_date: date) -> WeekRows | None:
    """One statement on an asyncpg connection (one round trip, one snapshot); None when
    there is no such pupil (or they have no school)."""
    row = await conn.fetchrow(WEEK, pupil_id, from_date, to_date)
    if row is None:
        return None
    provider_id, school_id, time_zone, stamp, lessons, bookings, unavailable = row
    return WeekRows(
        provider_id,
        school_id,
        time_zone,
        stamp,
        tuple(tuple(v) for v in lessons),
        [StoredBooking(*v) for v in bookings],
        [UnavailabilityValues(*v) for v in unavailable],
    )


# --- the version of what a pupil's week is computed from ---------------------------------


class WeekVersion(NamedTuple):
    """Who may see the pupil (provider) and everything a week of theirs is computed from,
    as versions: their school, its zone, the pupil's and the school's data versions
    (``telepresence.platform.versions``), raised by every change in the same transaction."""

    provider_id: str
    school_id: str
    time_zone: str
    pupil_version: int
    school_version: int


WEEK_VERSION = """
SELECT p.provider_id, p.school_id, s.time_zone, COALESCE(pv.version, 0), COALESCE(sv.version, 0)
FROM pupils p
JOIN schools s ON s.id = p.school_id
LEFT JOIN pupil_versions pv ON pv.pupil_id = p.id
LEFT JOIN school_versions sv ON sv.school_id = s.id
WHERE p.id = $1
"""


async def week_version(conn: Any, pupil_id: str) -> WeekVersion | None:
    """One statement on an asyncpg connection (PostgreSQL); None when there is no such pupil."""
    row = await conn.fetchrow(WEEK_VERSION, pupil_id)
    return None if row is None else WeekVersion(*row)


async def week_version_in(session: AsyncSession, pupil_id: str) -> WeekVersion | None:
    """``week_version`` through a session (SQLite)."""
    row = (
        await session.execute(
            select(
                Pupil.provider_id,
                Pupil.school_id,
                School.time_zone,
                func.coalesce(PupilVersion.version, 0),
                func.coalesce(SchoolVersion.version, 0),
            )
            .join(School, School.id == Pupil.school_id)
            .outerjoin(PupilVersion, PupilVersion.pupil_id == Pupil.id)
            .outerjoin(SchoolVersion, SchoolVersion.school_id == School.id)
            .where(Pupil.id == pupil_id)
        )
    ).first()
    return None if row is None else WeekVersion(*row)
