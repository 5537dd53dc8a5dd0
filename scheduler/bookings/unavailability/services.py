"""Use cases of a pupil's unavailability that change bookings: "too unwell today", and
cancelling what a new treatment or appointment overlaps; who is told when a pupil is unwell.

Like the booking use cases, they return the :class:`~scheduler.bookings.ports.BookingEvent`s
of their changes; the caller publishes them after its transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings import availability
from scheduler.bookings import repository as booking_repo
from scheduler.bookings.loading import load_plan
from scheduler.bookings.models import Booking, UnavailabilityRow
from scheduler.bookings.ports import BookingEvent, BookingEventKind
from scheduler.bookings.services import booking_event
from scheduler.bookings.unavailability.domain import Unavailable
from scheduler.timetables.occurrences import Occurrence
from telepresence.platform.events.notifier import Notice
from telepresence.platform.models import Provider, Pupil, School, User, zone_of
from telepresence.platform.security.identity import Principal, Role

__all__ = [
    "UNWELL_REASON",
    "SavedEntry",
    "cancel_during",
    "save_entry",
    "unwell_notice",
    "unwell_today",
]

UNWELL_REASON = "too unwell today"


async def unwell_today(
    session: AsyncSession, who: Principal, pupil_id: str, now: datetime
) -> tuple[list[Booking], list[BookingEvent]]:
    """ "Too unwell today": unavailable until the end of the local day; cancel what is left.

    Bookings that have not started yet today are cancelled with that reason;
    one already under way is left to end normally.
    """
    plan = await load_plan(session, who, pupil_id)
    zone = plan.calendar.zone
    today = now.astimezone(zone).date()
    end_of_day = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    session.add(
        UnavailabilityRow(
            pupil_id=plan.pupil.id,
            kind="once",
            reason=UNWELL_REASON,
            weekdays=[],
            starts_at=now,
            ends_at=end_of_day,
            created_at=now,
            created_by=who.subject_id,
        )
    )
    bookings = await booking_repo.live_bookings(
        session, [plan.pupil.id], starting_after=now, between=(today, today)
    )
    events = []
    for booking in bookings:
        booking.status = "cancelled"
        booking.cancel_reason = UNWELL_REASON
        booking.cancelled_at = now
        booking.cancelled_by = who.subject_id
        events.append(booking_event(booking, BookingEventKind.CANCELLED, now, UNWELL_REASON))
    await session.flush()
    return bookings, events


async def cancel_during(
    session: AsyncSession, who: Principal, pupil_id: str, entry: Unavailable, now: datetime
) -> tuple[list[Booking], list[BookingEvent]]:
    """Cancel the pupil's bookings still to start that a new unavailability overlaps.

    "Too unwell" on another day, an appointment next week, a new weekly
    treatment: the lessons in that time cannot be joined, so their bookings
    are cancelled with the entry's reason (and the rota told), not left for a
    robot to be carried to an empty lesson.
    """
    plan = await load_plan(session, who, pupil_id)
    zone = plan.calendar.zone
    reason = f"unavailable: {entry.reason}"[:200]
    cancelled: list[Booking] = []
    events: list[BookingEvent] = []
    for booking in await booking_repo.live_bookings(session, [plan.pupil.id], starting_after=now):
        start, end = booking.starts_at.astimezone(zone), booking.ends_at.astimezone(zone)
        occurrence = Occurrence(
            booking.lesson_key, booking.lesson_date, start.time(), end.time(),
            booking.starts_at, booking.ends_at, None,
        )  # fmt: skip
        if not entry.blocks(occurrence):
            continue
        booking.status = "cancelled"
        booking.cancel_reason = reason
        booking.cancelled_at = now
        booking.cancelled_by = who.subject_id
        cancelled.append(booking)
        events.append(booking_event(booking, BookingEventKind.CANCELLED, now, reason))
    await session.flush()
    return cancelled, events


@dataclass(frozen=True, slots=True)
class SavedEntry:
    """An unavailability stored (new, or in place of ``replaced``) and what it cancelled."""

    zone: ZoneInfo
    row: UnavailabilityRow
    cancelled: list[Booking]
    events: list[BookingEvent]
    replaced: str | None

    @property
    def audit(self) -> tuple[str, dict[str, Any]]:
        """The audit action and details of this save (the API and the page record the same)."""
        cancelled = [b.id for b in self.cancelled]
        if self.replaced is None:
            return "unavailability.add", {"cancelled": cancelled}
        return "unavailability.change", {"entry": self.replaced, "cancelled": cancelled}


async def save_entry(
    session: AsyncSession,
    who: Principal,
    pupil_id: str,
    entry: Unavailable,
    now: datetime,
    replacing: str | None = None,
) -> SavedEntry:
    """Store ``entry`` (new, or in place of the entry ``replacing``), then cancel the pupil's
    bookings still to start in its times (``cancel_during``). Raises what storing raises
    (``NotFound`` for a pupil or an entry not the caller's)."""
    if replacing is None:
        zone, row = await availability.add_unavailability(session, who, pupil_id, entry, now)
    else:
        zone, row = await availability.replace_unavailability(
            session, who, pupil_id, replacing, entry
        )
    cancelled, events = await cancel_during(session, who, pupil_id, entry, now)
    return SavedEntry(zone, row, cancelled, events, replacing)


async def unwell_notice(
    session: AsyncSession,
    who: Principal,
    pupil_id: str,
    cancelled: Sequence[Booking],
    now: datetime,
) -> Notice | None:
    """What the pupil's key worker is told when the pupil (or anyone but the key worker) says
    the pupil is too unwell today; once a day. Without a key worker, the provider's contact
    address is told. None when there is nobody to tell.
    """
    pupil = await session.get(Pupil, pupil_id)
    if pupil is None or who.subject_id == pupil.key_worker_id:
        return None
    school = await session.get(School, pupil.school_id)
    zone = zone_of(school)
    worker = await session.get(User, pupil.key_worker_id) if pupil.key_worker_id else None
    if worker is not None and not worker.active:
        worker = None
    provider = await session.get(Provider, pupil.provider_id)
    email = worker.email if worker else (provider.contact_email if provider else None)
    if worker is None and not email:
        return None
    name = f"{pupil.first_name} {pupil.last_name}".strip()
    by = "on their tablet" if who.role is Role.PUPIL else f"({who.display_name})"
    at = now.astimezone(zone)
    lines = [
        f"{b.starts_at.astimezone(zone):%H:%M} {b.subject}" + (f", {b.room}" if b.room else "")
        for b in cancelled
    ]
    body = f"{name} said {by} at {at:%H:%M} that they are too unwell for lessons today. "
    body += (
        "Cancelled: " + "; ".join(lines) + "." if lines else "No lessons were left to cancel today."
    )
    body += " You may want to check in with them."
    return Notice(
        idempotency_key=f"unwell-today:{pupil.id}:{at.date().isoformat()}",
        kind="pupil_unwell",
        subject=f"{name} is too unwell for lessons today",
        body=body,
        user_id=worker.id if worker else None,
        email=email,
        link=f"/pupils/{pupil.id}/unavailability",
    )
