"""When an operational alert opens and when its cause has gone: pure functions, no I/O.

Each alert is about one subject, named by its ``subject_key``: a move
(``move:<id>``), a robot (``device:<id>``: one open alert per robot and pupil
however many lessons it puts at risk) or a day (``day:<local date>``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

__all__ = [
    "BATTERY_OK_PCT",
    "DEVICE_LEAD",
    "NOT_DONE",
    "OpsDraft",
    "OpsRule",
    "battery_cleared",
    "battery_low",
    "device_offline",
    "move_cleared",
    "move_not_done",
    "offline_cleared",
    "unwell_cleared",
    "unwell_today",
]

NOT_DONE = frozenset({"escalated", "failed"})
"""Move statuses that mean the robot was not moved: not confirmed in time, or nobody could."""
DEVICE_LEAD = timedelta(minutes=30)
"""A robot offline this long before a booked lesson opens an alert."""
BATTERY_OK_PCT = 80
"""A robot back at this level (or on charge) no longer puts its lesson at risk."""


class OpsRule(enum.StrEnum):
    """The operational alerts, by the rule name an alert carries."""

    MOVE_NOT_DONE = "move_not_done"
    DEVICE_OFFLINE = "device_offline"
    DEVICE_BATTERY_LOW = "device_battery_low"
    UNWELL_TODAY = "unwell_today"


@dataclass(frozen=True, slots=True)
class OpsDraft:
    """An operational alert to open: rule, subject, one-line summary, figures behind it."""

    rule: OpsRule
    subject_key: str
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)


def move_not_done(
    move_id: str, status: str, reason: str | None, line: str, lesson: str
) -> OpsDraft | None:
    """A move escalated (not confirmed in time) or failed (nobody could do it)."""
    if status not in NOT_DONE:
        return None
    why = reason or ("not confirmed in time" if status == "escalated" else "could not be done")
    return OpsDraft(
        OpsRule.MOVE_NOT_DONE,
        f"move:{move_id}",
        f"Robot move not done before {lesson}: {line} ({why}).",
        {"move_id": move_id, "move_status": status, "reason": why, "move": line},
    )


def move_cleared(status: str | None) -> bool:
    """The move was done after all, or is gone (its lesson cancelled, the day re-planned)."""
    return status is None or status == "done"


def device_offline(
    device_id: str, robot: str, online: bool, lifecycle: str, lesson: str, starts_at: datetime
) -> OpsDraft | None:
    """An active robot is offline with a booked lesson about to start."""
    if online or lifecycle != "active":
        return None
    return OpsDraft(
        OpsRule.DEVICE_OFFLINE,
        f"device:{device_id}",
        f"Robot '{robot}' is offline before {lesson}.",
        {
            "device_id": device_id,
            "robot": robot,
            "lesson": lesson,
            "lesson_starts_at": starts_at.isoformat(),
        },
    )


def offline_cleared(online: bool | None, lifecycle: str | None) -> bool:
    """The robot is back online, or out of service (the rota stops using it), or gone."""
    return online is None or online or lifecycle != "active"


def battery_low(
    device_id: str, robot: str, projected_pct: float, lesson: str, ends_at: datetime
) -> OpsDraft:
    """The rota warned that a robot will not last a lesson and no charge fits before it."""
    left = max(round(projected_pct), 0)
    return OpsDraft(
        OpsRule.DEVICE_BATTERY_LOW,
        f"device:{device_id}",
        f"Robot '{robot}' may run out of battery during {lesson} (about {left} % left by "
        "its end): charge or swap it.",
        {
            "device_id": device_id,
            "robot": robot,
            "lesson": lesson,
            "projected_pct": left,
            "lesson_ends_at": ends_at.isoformat(),
        },
    )


def battery_cleared(
    battery_pct: int | None, charging: bool | None, lesson_ends_at: datetime | None, now: datetime
) -> bool:
    """The robot is on charge or charged again, or the lesson at risk is over (its outcome
    then says what happened)."""
    if charging or (battery_pct is not None and battery_pct >= BATTERY_OK_PCT):
        return True
    return lesson_ends_at is None or now >= lesson_ends_at


def unwell_today(day: date, until: datetime, cancelled: list[str]) -> OpsDraft:
    """The pupil (or staff for them) said they are too unwell for lessons today."""
    what = "; ".join(cancelled) if cancelled else "no lessons were left to cancel"
    return OpsDraft(
        OpsRule.UNWELL_TODAY,
        f"day:{day.isoformat()}",
        f"Too unwell for lessons today ({what}).",
        {"day": day.isoformat(), "day_ends_at": until.isoformat(), "cancelled": what},
    )


def unwell_cleared(until: datetime | None, now: datetime) -> bool:
    """The day is over (the pupil's school day, in its time zone)."""
    return until is None or now >= until
