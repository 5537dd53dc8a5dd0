"""A pupil's unavailability (treatment, appointments) and whether it blocks an occurrence.

Pure: no I/O. Weekly entries are local wall-clock times in the school's zone
(the pupil joins the school's lessons, so that is the clock that matters);
one-off entries are UTC instants.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from scheduler.timetables.occurrences import Occurrence

__all__ = ["OneOffUnavailable", "Unavailable", "WeeklyUnavailable", "blocking"]

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class WeeklyUnavailable:
    """Every week on ``weekdays`` (0 = Monday) from local ``start`` to ``end``, within validity.

    Raises ``ValueError`` for an empty or impossible window.
    """

    id: str
    reason: str
    weekdays: frozenset[int]
    start: time
    end: time
    valid_from: date | None = None
    valid_to: date | None = None

    def __post_init__(self) -> None:
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError("weekdays must name at least one of 0 (Monday) .. 6 (Sunday)")
        if self.start >= self.end:
            raise ValueError("the unavailability must start before it ends")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")

    def blocks(self, occurrence: Occurrence) -> bool:
        """True when this overlaps the occurrence's local times (touching ends do not)."""
        day = occurrence.date
        if day.weekday() not in self.weekdays:
            return False
        if (self.valid_from and day < self.valid_from) or (self.valid_to and day > self.valid_to):
            return False
        return self.start < occurrence.end_local and occurrence.start_local < self.end

    def describe(self, zone: ZoneInfo) -> str:
        """``"dialysis (Mon, Wed, Fri 09:00-12:00)"`` (``zone`` unused: already local)."""
        days = ", ".join(_DAY_NAMES[d] for d in sorted(self.weekdays))
        return f"{self.reason} ({days} {self.start:%H:%M}-{self.end:%H:%M})"


@dataclass(frozen=True, slots=True)
class OneOffUnavailable:
    """From ``starts_at`` to ``ends_at`` (aware UTC). Raises ``ValueError`` if empty."""

    id: str
    reason: str
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("one-off unavailability needs aware datetimes")
        if self.starts_at >= self.ends_at:
            raise ValueError("the unavailability must start before it ends")

    def blocks(self, occurrence: Occurrence) -> bool:
        """True when this overlaps the occurrence (touching ends do not)."""
        return self.starts_at < occurrence.end and occurrence.start < self.ends_at

    def describe(self, zone: ZoneInfo) -> str:
        """``"appointment (Tue 04 Mar 10:00-11:30)"`` in the school's ``zone``."""
        start, end = self.starts_at.astimezone(zone), self.ends_at.astimezone(zone)
        until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %d %b %H:%M}"
        return f"{self.reason} ({start:%a %d %b %H:%M}-{until})"


Unavailable = WeeklyUnavailable | OneOffUnavailable


def blocking(entries: Iterable[Unavailable], occurrence: Occurrence) -> list[Unavailable]:
    """The entries that overlap ``occurrence``, in the order given."""
    return [entry for entry in entries if entry.blocks(occurrence)]
