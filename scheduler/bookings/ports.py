"""What the scheduler tells the rest of the service: typed booking events.

The move rota and the usage reports consume these; they are published after
the transaction that made the change has committed, so a consumer never sees
a booking that was rolled back.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

__all__ = ["BookingEvent", "BookingEventKind", "BookingEvents"]


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
