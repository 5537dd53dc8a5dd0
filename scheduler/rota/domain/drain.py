"""A robot's battery use in lessons, learned from its own telemetry (pure).

The battery rule projects each lesson's use from a drain rate. One figure
for every robot is wrong for an old battery or a robot that streams all
day, so each robot's rate is learned from the per-minute telemetry the
registry keeps: the battery it lost during its own booked lessons, off
charge, divided by the time those readings span. Too little evidence (under
``MIN_HOURS`` of lesson readings) leaves the default; the result is clamped
to a plausible range so that one odd sensor cannot make the rota send a
robot to charge after every lesson or never.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

__all__ = ["HIGHEST", "LOWEST", "MAX_GAP", "MIN_HOURS", "Drain", "Reading", "learned_drain"]

MIN_HOURS = 2.0
"""Hours of lesson readings needed before a learned rate replaces the default."""
LOWEST, HIGHEST = 5.0, 40.0
"""The range a learned rate is clamped to (% an hour)."""
MAX_GAP = timedelta(minutes=10)
"""Two readings further apart than this say nothing about the time between them."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One telemetry sample: when, battery %, and whether it was charging (``None``: unknown)."""

    at: datetime
    battery_pct: float
    charging: bool | None


@dataclass(frozen=True, slots=True)
class Drain:
    """A learned rate and the hours of lesson readings behind it."""

    pct_per_hour: float
    hours: float


def learned_drain(
    readings: Iterable[Reading], lessons: Sequence[tuple[datetime, datetime]]
) -> Drain | None:
    """The robot's drain in lessons from its ``readings``, or ``None`` with too little evidence.

    Only pairs of consecutive readings inside the same lesson (``lessons``:
    start and end instants), both known to be off charge, at most
    ``MAX_GAP`` apart and not rising count: a rise means a charger or a
    battery swap.
    """
    windows = sorted(lessons)
    ordered = sorted(readings, key=lambda r: r.at)
    lost = seconds = 0.0
    for before, after in pairwise(ordered):
        if before.charging is not False or after.charging is not False:
            continue
        gap = after.at - before.at
        if gap > MAX_GAP or after.battery_pct > before.battery_pct:
            continue
        if not any(start <= before.at and after.at <= end for start, end in windows):
            continue
        lost += before.battery_pct - after.battery_pct
        seconds += gap.total_seconds()
    hours = seconds / 3600
    if hours < MIN_HOURS:
        return None
    return Drain(min(HIGHEST, max(LOWEST, lost / hours)), hours)
