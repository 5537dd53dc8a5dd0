"""Bookings' pure core: an occurrence as staff decide on it, and why one cannot be booked.

No I/O: the booking itself is whatever the caller stored (a database row in the
service), so the rules here are tested on plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar

from scheduler.timetables.occurrences import Lesson, Occurrence

__all__ = ["OccurrenceState", "OccurrenceView", "occurrence_state"]

OccurrenceState = Literal["booked", "past", "unavailable", "bookable"]
BookingT = TypeVar("BookingT")


@dataclass(frozen=True, slots=True)
class OccurrenceView(Generic[BookingT]):
    """An occurrence with its lesson, its booking (if any) and what blocks it.

    ``state`` is ``booked``, ``past``, ``unavailable`` or ``bookable``.
    """

    occurrence: Occurrence
    lesson_id: str
    lesson: Lesson
    booking: BookingT | None
    unavailable: tuple[str, ...]
    state: OccurrenceState


def occurrence_state(
    occ: Occurrence, booked: bool, blocked: tuple[str, ...], now: datetime
) -> OccurrenceState:
    """Booked wins; otherwise an occurrence that has started is past, then blocked or bookable."""
    if booked:
        return "booked"
    if occ.start <= now:
        return "past"
    return "unavailable" if blocked else "bookable"
