"""Secret, revocable iCalendar feeds of a pupil's bookings, for staff and families' calendars.

The feed URL carries a random token; only its SHA-256 is stored. One live
feed per pupil: creating a new one revokes the old, and revoking takes
effect on the next fetch. The feed holds the minimum a calendar needs:
subject, times (UTC), school and room; never the pupil's full name.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings.models import Booking, CalendarFeed
from scheduler.timetables import repository as repo
from scheduler.timetables.imports import escape_for_csv
from telepresence.platform.errors import NotFound
from telepresence.platform.models import Pupil, School
from telepresence.platform.security.identity import Principal, hash_token

__all__ = [
    "FEED_DAYS_BACK",
    "FeedBooking",
    "bookings_calendar",
    "create_feed",
    "feed_contents",
    "live_feed",
    "revoke_feeds",
]

FEED_DAYS_BACK = 30  # recent lessons stay visible; older ones drop out of the feed
_CONTROL = {code: None for code in range(32) if code not in (9, 10)}


@dataclass(frozen=True, slots=True)
class FeedBooking:
    """What one VEVENT shows: the booking's id, UTC times and plain text."""

    booking_id: str
    starts_at: datetime
    ends_at: datetime
    subject: str
    location: str


def _text(value: str) -> str:
    """A value safe for a calendar field that may end up in a spreadsheet export.

    Control characters go; a leading ``= + - @`` is neutralised (CSV/formula
    injection); iCalendar's own escaping (commas, semicolons, newlines) is the
    library's job.
    """
    return escape_for_csv(value.translate(_CONTROL).strip())


def bookings_calendar(name: str, bookings: Iterable[FeedBooking], now: datetime) -> bytes:
    """The iCalendar document (RFC 5545) of ``bookings``, times in UTC, ``now`` as DTSTAMP."""
    calendar = Calendar()
    calendar.add("prodid", "-//Classbridge//Lesson bookings//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _text(name))
    for booking in bookings:
        event = Event()
        event.add("uid", f"{booking.booking_id}@classbridge")
        event.add("dtstamp", now)
        event.add("dtstart", booking.starts_at)
        event.add("dtend", booking.ends_at)
        event.add("summary", _text(booking.subject))
        if booking.location:
            event.add("location", _text(booking.location))
        event.add("description", "Joining remotely with Classbridge")
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    document: bytes = calendar.to_ical()
    return document


async def live_feed(session: AsyncSession, who: Principal, pupil_id: str) -> CalendarFeed | None:
    """The pupil's live feed, if any (``NotFound`` for a pupil the caller cannot see)."""
    pupil = await repo.visible_pupil(session, who, pupil_id)
    return await session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.pupil_id == pupil.id, CalendarFeed.revoked_at.is_(None)
        )
    )


async def revoke_feeds(session: AsyncSession, who: Principal, pupil_id: str, now: datetime) -> int:
    """Revoke the pupil's live feed(s) at once; returns how many there were."""
    pupil = await repo.visible_pupil(session, who, pupil_id)
    result = await session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.pupil_id == pupil.id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=who.subject_id)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def create_feed(
    session: AsyncSession, who: Principal, pupil_id: str, now: datetime
) -> tuple[CalendarFeed, str]:
    """A new feed for the pupil (any previous one is revoked) and its token, shown only now."""
    await revoke_feeds(session, who, pupil_id, now)
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(
        pupil_id=pupil_id, token_hash=hash_token(token), created_at=now, created_by=who.subject_id
    )
    session.add(feed)
    await session.flush()
    return feed, token


async def feed_contents(session: AsyncSession, token: str, now: datetime) -> tuple[str, bytes]:
    """The feed's pupil id and iCalendar document; ``NotFound`` for an unknown or revoked token.

    Holds the pupil's live bookings that end after ``FEED_DAYS_BACK`` days ago.
    """
    feed = await session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == hash_token(token), CalendarFeed.revoked_at.is_(None)
        )
    )
    pupil = await session.get(Pupil, feed.pupil_id) if feed else None
    if feed is None or pupil is None or not pupil.active:
        raise NotFound("There is no such calendar feed.")
    feed.last_used_at = now
    school = await session.get(School, pupil.school_id)
    rows = await session.scalars(
        select(Booking)
        .where(
            Booking.pupil_id == pupil.id,
            Booking.status == "booked",
            Booking.ends_at > now - timedelta(days=FEED_DAYS_BACK),
        )
        .order_by(Booking.starts_at)
    )
    place = school.name if school else ""
    events = [
        FeedBooking(
            b.id, b.starts_at, b.ends_at, b.subject, ", ".join(p for p in (b.room, place) if p)
        )
        for b in rows
    ]
    name = f"{repo.pupil_display_name(pupil)}'s lessons"
    return pupil.id, bookings_calendar(name, events, now)
