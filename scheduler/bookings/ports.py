"""What bookings exchange with the rest of the service.

- Typed booking events, which the move rota and the usage reports consume;
  they are published after the transaction that made the change has
  committed, so a consumer never sees a booking that was rolled back.
- ``LessonOutcomes``: what became of past booked lessons ("Attended 52 of 60
  min"), told by the engagement package, which the composition root installs
  as ``app[LESSON_OUTCOMES]``; without it a past lesson just reads "Past".
- ``PupilUnwell``: told, in the same transaction, when a pupil is said to be
  too unwell today (the engagement package opens an alert for the key worker
  and coordinators); ``tell_unwell`` calls it when installed as
  ``app[PUPIL_UNWELL]``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "LESSON_OUTCOMES",
    "PUPIL_UNWELL",
    "BookingEvent",
    "BookingEventKind",
    "BookingEvents",
    "LessonOutcomes",
    "PastLesson",
    "PupilUnwell",
    "tell_unwell",
]


class BookingEventKind(enum.StrEnum):
    """What happened to a booking."""

    BOOKED = "booked"
    CANCELLED = "cancelled"
    CHANGED = "changed"  # same occurrence, new room or times after a re-import
    FLAGGED = "flagged"  # its lesson vanished or moved; staff must decide


@dataclass(frozen=True, slots=True)
class BookingEvent:
    """One change to one booking, with everything a consumer needs to act on it.

    ``starts_at``/``ends_at`` are aware UTC; ``lesson_date`` is the school's
    local date; ``reason`` carries the cancel or flag reason.
    """

    kind: BookingEventKind
    booking_id: str
    pupil_id: str
    school_id: str
    lesson_key: str
    lesson_date: date
    starts_at: datetime
    ends_at: datetime
    room: str
    classroom_device_id: str
    pupil_device_id: str | None
    at: datetime
    reason: str | None = None


class BookingEvents(Protocol):
    """Where booking events go (in-process fan-out today; a queue would also fit)."""

    def publish(self, events: Sequence[BookingEvent]) -> None:
        """Hand the events on without blocking; never raises for a slow consumer."""
        ...


@dataclass(frozen=True, slots=True)
class PastLesson:
    """What became of one booking of a lesson that is over.

    ``outcome`` is ``attended``, ``partial``, ``missed`` or ``cancelled``;
    ``words`` says it for people ("Attended 52 of 60 min", "Missed: robot not
    moved", "Cancelled: unwell").
    """

    booking_id: str
    lesson_key: str
    lesson_date: date
    outcome: str
    reason: str | None
    words: str


class LessonOutcomes(Protocol):
    """Where the outcomes of a pupil's past lessons come from."""

    async def of_pupil(
        self, session: AsyncSession, pupil_id: str, first: date, last: date
    ) -> list[PastLesson]:
        """The outcomes of the pupil's bookings (cancelled ones too) with a local lesson date
        from ``first`` to ``last`` inclusive, read in the caller's transaction."""
        ...


LESSON_OUTCOMES = web.AppKey("lesson_outcomes", LessonOutcomes)


class PupilUnwell(Protocol):
    """Who else hears that a pupil is too unwell for lessons today."""

    async def said_unwell(
        self, session: AsyncSession, pupil_id: str, cancelled: Sequence[str], now: datetime
    ) -> None:
        """In the caller's transaction; ``cancelled`` are the booking ids just cancelled."""
        ...


PUPIL_UNWELL = web.AppKey("pupil_unwell", PupilUnwell)


async def tell_unwell(
    app: web.Application,
    session: AsyncSession,
    pupil_id: str,
    cancelled: Sequence[str],
    now: datetime,
) -> None:
    """Tell the installed ``PupilUnwell`` (nothing without one)."""
    hook = app.get(PUPIL_UNWELL)
    if hook is not None:
        await hook.said_unwell(session, pupil_id, cancelled, now)
