"""Taking a pupil off roll, bringing them back, and deleting a record made by mistake.

Off roll: the pupil's bookings that have not started are cancelled (a lesson under
way is left to end), the devices assigned to them are released for another pupil,
their tablet is signed out at once and their calendar feed stops working. Their
history stays for the retention period. A record with no history at all can be
deleted instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.bookings import repository as booking_repo
from scheduler.bookings.feeds.services import revoke_feeds
from scheduler.bookings.models import Booking
from scheduler.bookings.ports import BookingEvent, BookingEventKind
from scheduler.bookings.services import booking_event
from telepresence.organisation.services import get_pupil
from telepresence.platform.errors import Conflict
from telepresence.platform.models import Pupil
from telepresence.platform.security.identity import Principal
from telepresence.platform.security.revocation import Identity, revoke_identity

__all__ = [
    "OFF_ROLL_REASON",
    "OffRoll",
    "back_on_roll",
    "delete_pupil",
    "off_roll_summary",
    "take_off_roll",
]

OFF_ROLL_REASON = "pupil taken off roll"


@dataclass(slots=True)
class OffRoll:
    """What taking the pupil off roll changes (or changed)."""

    pupil: Pupil
    bookings: list[Booking] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    under_way: list[Booking] = field(default_factory=list)
    history: int = 0


async def off_roll_summary(
    session: AsyncSession, who: Principal, pupil_id: str, now: datetime
) -> OffRoll:
    """The bookings that would be cancelled, the devices released, a lesson left to end,
    and how many bookings of history the record has (``NotFound`` for another's pupil)."""
    pupil = await get_pupil(session, who, pupil_id)
    live = await booking_repo.live_bookings(session, [pupil.id])
    devices = list(
        await session.scalars(
            select(Device).where(Device.pupil_id == pupil.id).order_by(Device.name)
        )
    )
    history = await session.scalar(
        select(func.count()).select_from(Booking).where(Booking.pupil_id == pupil.id)
    )
    return OffRoll(
        pupil=pupil,
        bookings=[b for b in live if b.starts_at > now],
        devices=devices,
        under_way=[b for b in live if b.starts_at <= now < b.ends_at],
        history=int(history or 0),
    )


async def take_off_roll(
    app: web.Application, session: AsyncSession, who: Principal, pupil_id: str, now: datetime
) -> tuple[OffRoll, list[BookingEvent]]:
    """Apply the summary: cancel, release, sign out, mark inactive.

    Raises ``Conflict`` when the pupil is already off roll (nothing changes).
    """
    summary = await off_roll_summary(session, who, pupil_id, now)
    if not summary.pupil.active:
        raise Conflict("This pupil is already off roll.")
    events = []
    for booking in summary.bookings:
        booking.status = "cancelled"
        booking.cancel_reason = OFF_ROLL_REASON
        booking.cancelled_at = now
        booking.cancelled_by = who.subject_id
        events.append(booking_event(booking, BookingEventKind.CANCELLED, now, OFF_ROLL_REASON))
    for device in summary.devices:
        device.pupil_id = None
    summary.pupil.active = False
    await revoke_identity(app, session, Identity.PUPIL, summary.pupil.id, now)
    await revoke_feeds(session, who, summary.pupil.id, now)  # their calendar stops updating
    await session.flush()
    return summary, events


async def back_on_roll(session: AsyncSession, who: Principal, pupil_id: str) -> Pupil:
    """Mark the pupil active again (cancelled bookings stay cancelled; book anew)."""
    pupil = await get_pupil(session, who, pupil_id)
    pupil.active = True
    await session.flush()
    return pupil


async def delete_pupil(
    session: AsyncSession, who: Principal, pupil_id: str, now: datetime
) -> Pupil:
    """Delete a record that has no bookings at all (one made by mistake), with its timetable,
    unavailability and plan; its devices are released first.

    Raises ``Conflict`` for a pupil with bookings: take them off roll instead, so that
    their history is kept for the retention period.
    """
    summary = await off_roll_summary(session, who, pupil_id, now)
    if summary.history:
        raise Conflict(
            "This pupil has lessons on record, so the record cannot be deleted; "
            "take them off roll instead (their history is kept for the retention period)."
        )
    for device in summary.devices:
        device.pupil_id = None
    await session.flush()
    await session.execute(delete(Pupil).where(Pupil.id == summary.pupil.id))
    return summary.pupil
