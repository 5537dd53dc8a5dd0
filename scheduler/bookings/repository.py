"""Reading and locking bookings' tables as domain objects: unavailability and bookings.

Who may see which pupil is decided in ``scheduler.timetables.repository``
(``visible_pupil``), which every use case calls first.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.bookings.models import Booking, UnavailabilityRow
from scheduler.bookings.unavailability.domain import (
    OneOffUnavailable,
    Unavailable,
    WeeklyUnavailable,
)
from scheduler.timetables.repository import lock_rows

__all__ = [
    "live_bookings",
    "load_unavailability",
    "lock_booking",
    "lock_device",
    "locked_device",
    "unavailable_from_row",
]


async def locked_device(session: AsyncSession, device_id: str) -> Device | None:
    """``lock_device`` and the device's row as it is now (one round trip on PostgreSQL)."""
    if session.get_bind().dialect.name == "sqlite":
        await lock_device(session, device_id)
        return await session.get(Device, device_id, populate_existing=True)
    found = await session.scalars(
        select(Device)
        .where(Device.id == device_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return found.first()


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


def unavailable_from_row(row: UnavailabilityRow) -> Unavailable:
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
