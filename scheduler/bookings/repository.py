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
    "BOOKING_INSERT",
    "BOOKING_READ",
    "AuditOf",
    "BookingRows",
    "DeviceValues",
    "LessonValues",
    "NewBooking",
    "SeenBooking",
    "StoredBooking",
    "UnavailabilityColumns",
    "UnavailabilityValues",
    "WeekRows",
    "WeekVersion",
    "booking_rows",
    "insert_booking",
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
    locked until the transaction ends, then read as they are now."""
    chosen: ColumnElement[bool] = Device.id.in_(ids)
    if assigned_to is not None:
        chosen = or_(
            chosen, and_(Device.pupil_id == assigned_to, Device.kind.in_(("robot", "tablet")))
        )
    # A no-op UPDATE (``lock_rows``): the locks, and a new row version that a lock-free
    # booking which read these devices before will see (``BOOKING_INSERT``).
    touch = update(Device).where(chosen)
    await session.execute(
        touch.values(lifecycle=Device.lifecycle).execution_options(synchronize_session=False)
    )
    query = select(Device).where(chosen).order_by(Device.id)
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


# --- a booking in two statements (PostgreSQL, the pool's asyncpg connection) -------------


class DeviceValues(NamedTuple):
    """A device's columns, as a booking chooses and checks it."""

    id: str
    provider_id: str
    pupil_id: str | None
    kind: str
    name: str
    lifecycle: str
    school_id: str | None
    version: str  # the row's xmin: any write since leaves a new one


class SeenBooking(NamedTuple):
    """A live booking near the occurrence: the pupil's own, or another's on a device."""

    pupil_id: str
    first_name: str
    last_name: str
    lesson_key: str
    lesson_date: date
    subject: str
    starts_at: datetime
    ends_at: datetime
    classroom_device_id: str
    pupil_device_id: str | None


BOOKING_READ = """
WITH dev AS (
  SELECT d.id, d.provider_id, d.pupil_id, d.kind, d.name, d.lifecycle, d.school_id,
         d.xmin::text AS version
  FROM devices d
  WHERE d.id = ANY($3::varchar[])
     OR ($4 AND d.pupil_id = $1 AND d.kind IN ('robot', 'tablet'))
)
SELECT p.provider_id, p.school_id, p.first_name, p.last_name, s.time_zone,
  COALESCE(sv.version, 0), p.xmin::text,
  (SELECT ROW(l.id, l.key, l.subject, l.weekday, l.start_time, l.end_time, l.class_group,
              l.teacher, l.room, l.week, l.valid_from, l.valid_to,
              l.excluded_dates::text, l.extra_dates::text, l.xmin::text)
   FROM lessons l WHERE l.id = $2 AND l.pupil_id = p.id),
  ARRAY(SELECT ROW(u.id, u.kind, u.reason, u.weekdays::text, u.start_time, u.end_time,
                   u.valid_from, u.valid_to, u.starts_at, u.ends_at)
        FROM unavailability u WHERE u.pupil_id = p.id ORDER BY u.kind DESC, u.created_at),
  ARRAY(SELECT ROW(dev.id, dev.provider_id, dev.pupil_id, dev.kind, dev.name, dev.lifecycle,
                   dev.school_id, dev.version) FROM dev ORDER BY dev.id),
  ARRAY(SELECT ROW(b.pupil_id, o.first_name, o.last_name, b.lesson_key, b.lesson_date,
                   b.subject, b.starts_at, b.ends_at, b.classroom_device_id, b.pupil_device_id)
        FROM bookings b JOIN pupils o ON o.id = b.pupil_id
        WHERE b.status = 'booked' AND b.starts_at < $6 AND b.ends_at > $5
          AND (b.pupil_id = p.id
               OR b.classroom_device_id = ANY(ARRAY(SELECT id FROM dev))
               OR b.pupil_device_id = ANY(ARRAY(SELECT id FROM dev)))
        ORDER BY b.starts_at, b.id)
FROM pupils p
JOIN schools s ON s.id = p.school_id
LEFT JOIN school_versions sv ON sv.school_id = s.id
WHERE p.id = $1
"""


class BookingRows(NamedTuple):
    """What ``booking_rows`` read for a booking: the pupil, their school's zone and calendar
    stamp, the lesson (None when it is not theirs) with its row version, their
    unavailability, the devices to choose from and the live bookings near the day."""

    provider_id: str
    school_id: str
    first_name: str
    last_name: str
    time_zone: str
    stamp: int  # the school's data version (its calendar's)
    pupil_version: str
    lesson: LessonValues | None
    lesson_version: str
    unavailable: list[UnavailabilityValues]
    devices: list[DeviceValues]
    seen: list[SeenBooking]


async def booking_rows(
    conn: Any,
    pupil_id: str,
    lesson_id: str,
    device_ids: list[str],
    assigned: bool,
    near: tuple[datetime, datetime],
) -> BookingRows | None:
    """One statement on an asyncpg ``conn`` (no lock, one snapshot): everything the rules
    need to book ``lesson_id``, with the devices of ``device_ids`` and (``assigned``) the
    pupil's robots and tablets, and the live bookings meeting ``near`` (a span covering
    the occurrence) of the pupil or those devices. None when there is no such pupil."""
    row = await conn.fetchrow(BOOKING_READ, pupil_id, lesson_id, device_ids, assigned, *near)
    if row is None:
        return None
    provider_id, school_id, first, last, zone, stamp, pupil_version, lesson, *rest = row
    unavailable, devices, seen = rest
    values = None
    if lesson is not None:
        values = LessonValues._make([*lesson[:12], json.loads(lesson[12]), json.loads(lesson[13])])
    return BookingRows(
        provider_id,
        school_id,
        first,
        last,
        zone,
        stamp,
        pupil_version,
        values,
        lesson[14] if lesson is not None else "",
        [UnavailabilityValues._make([*u[:3], json.loads(u[3]), *u[4:]]) for u in unavailable],
        [DeviceValues(*d) for d in devices],
        [SeenBooking(*b) for b in seen],
    )


# The booking and its audit entry in one autocommit statement, if nothing the rules were
# asked about changed since it was read: no write to the pupil's row (every booking, lock
# and import leaves a new row version: ``lock_rows``) nor to the chosen devices' rows (each
# booking of a device leaves one), the lesson's row and the school's data version (its
# calendar's) the same. Each no-op UPDATE takes the row's lock for the statement: one in
# flight is waited for, then PostgreSQL checks the WHERE again on the row as it is now
# (READ COMMITTED's re-check of an updated row), so two bookings that read "free" cannot
# both insert: the second writes nothing and is asked again (``insert_booking``: False).
BOOKING_INSERT = """
WITH p AS (
  UPDATE pupils SET active = active WHERE id = $2 AND xmin::text = $21 RETURNING 1
),
d AS (
  UPDATE devices SET lifecycle = lifecycle
  WHERE (id, xmin::text) IN (SELECT * FROM unnest($18::varchar[], $22::text[]))
    AND lifecycle = 'active'
  RETURNING 1
),
l AS (SELECT l.xmin::text AS version FROM lessons l WHERE l.id = $16 FOR SHARE),
c AS (SELECT c.version FROM school_versions c WHERE c.school_id = $3 FOR SHARE),
ok AS (
  SELECT 1 WHERE (SELECT count(*) FROM p) = 1
    AND (SELECT count(*) FROM d) = cardinality($18::varchar[])
    AND (SELECT version FROM l) = $17
    AND COALESCE((SELECT max(version) FROM c), 0) = $19::bigint
),
b AS (
  INSERT INTO bookings (id, pupil_id, school_id, lesson_key, lesson_date, starts_at, ends_at,
    subject, room, classroom_device_id, pupil_device_id, status, created_at, created_by)
  SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'booked', $12, $13 FROM ok
  RETURNING id
)
INSERT INTO audit_log (at, provider_id, actor_role, actor_id, action, subject_type,
  subject_id, request_id, details, note)
SELECT $12, $14, $15, $13, 'booking.add', 'pupil', $2, $20, json_build_object('booking', b.id), ''
FROM b
"""


class NewBooking(NamedTuple):
    """The columns of a booking to insert (``status`` is ``booked``)."""

    id: str
    pupil_id: str
    school_id: str
    lesson_key: str
    lesson_date: date
    starts_at: datetime
    ends_at: datetime
    subject: str
    room: str
    classroom_device_id: str
    pupil_device_id: str | None
    created_at: datetime
    created_by: str


class AuditOf(NamedTuple):
    """Who booked, for the audit entry written with the booking."""

    provider_id: str | None
    actor_role: str
    request_id: str


async def insert_booking(
    conn: Any,
    booking: NewBooking,
    audit: AuditOf,
    *,
    read: BookingRows,
    lesson_id: str,
) -> bool:
    """Insert ``booking`` and its audit entry in one statement (no transaction around it)
    if the pupil, devices, lesson and calendar are as ``read`` saw them.

    False when one changed since (nothing written: read again and ask the rules again).
    May raise asyncpg's ``UniqueViolationError`` (the occurrence booked meanwhile under a
    lock) or ``DeadlockDetectedError`` (nothing written either way).
    """
    chosen = sorted({d for d in (booking.classroom_device_id, booking.pupil_device_id) if d})
    version = {d.id: d.version for d in read.devices}
    status = await conn.execute(
        BOOKING_INSERT,
        *booking,
        audit.provider_id,
        audit.actor_role,
        lesson_id,
        read.lesson_version,
        chosen,
        read.stamp,
        audit.request_id,
        read.pupil_version,
        [version[d] for d in chosen],
    )
    return bool(status == "INSERT 0 1")
