"""Bookings' pure core: an occurrence as staff decide on it, and why one cannot be booked.

No I/O: the booking itself is whatever the caller stored (a database row in the
service), so the rules here are tested on plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, Literal, Protocol, TypeVar

from scheduler.timetables.occurrences import Lesson, Occurrence

__all__ = ["BookedFields", "OccurrenceState", "OccurrenceView", "occurrence_state"]

OccurrenceState = Literal["booked", "past", "unavailable", "bookable"]
BookingT_co = TypeVar("BookingT_co", covariant=True)


class BookedFields(Protocol):
    """What is shown of a stored booking: a database row, or the plain values of one."""

    @property
    def id(self) -> str: ...
    @property
    def pupil_id(self) -> str: ...
    @property
    def lesson_key(self) -> str: ...
    @property
    def lesson_date(self) -> date: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def subject(self) -> str: ...
    @property
    def room(self) -> str: ...
    @property
    def classroom_device_id(self) -> str: ...
    @property
    def pupil_device_id(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def cancel_reason(self) -> str | None: ...
    @property
    def flagged_reason(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class OccurrenceView(Generic[BookingT_co]):
    """An occurrence with its lesson, its booking (if any) and what blocks it.

    ``state`` is ``booked``, ``past``, ``unavailable`` or ``bookable``.
    """

    occurrence: Occurrence
    lesson_id: str
    lesson: Lesson
    booking: BookingT_co | None
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
