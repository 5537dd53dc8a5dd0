"""Disengagement rules: pure functions from a pupil's figures to the alerts they call for.

Each rule returns an ``AlertDraft`` (with the figures that explain it) or
None. The daily job gathers ``PupilSignals`` from the aggregate queries and
opens an alert per draft unless one of the same rule is still open.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "RULES",
    "AlertDraft",
    "PupilSignals",
    "RuleName",
    "RuleSettings",
    "attendance_drop",
    "bookings_stopped",
    "evaluate",
    "missed_in_a_row",
    "no_lesson_joined",
    "robot_unused",
]


class RuleName(enum.StrEnum):
    """The disengagement rules, by the name an alert carries."""

    ATTENDANCE_DROP = "attendance_drop"
    MISSED_IN_A_ROW = "missed_in_a_row"
    NO_LESSON_JOINED = "no_lesson_joined"
    BOOKINGS_STOPPED = "bookings_stopped"
    ROBOT_UNUSED = "robot_unused"


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """Thresholds; the drop margin is ``CLASSBRIDGE_ENGAGEMENT_DROP_MARGIN``."""

    drop_margin: float = 0.2
    missed_run: int = 3
    school_days: int = 5
    min_earlier_bookings: int = 3


@dataclass(frozen=True, slots=True)
class PupilSignals:
    """What the rules look at for one pupil (shares are of booked time, 0..1)."""

    pupil_id: str
    recent_share: float | None = None  # the last two weeks
    recent_booked_seconds: int = 0
    earlier_share: float | None = None  # the four weeks before those
    earlier_booked_seconds: int = 0
    last_outcomes: Sequence[str] = ()  # of booked (not cancelled) lessons, newest last
    school_days_since_joined: int = 0
    booked_since_joined: int = 0
    recent_bookings: int = 0  # the last school week and the coming one
    earlier_bookings: int = 0  # the four weeks before
    robot_name: str | None = None
    robot_unused_school_days: int | None = None


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """An alert a rule calls for: its rule, a one-line summary, the figures behind it."""

    rule: RuleName
    summary: str
    figures: dict[str, Any] = field(default_factory=dict)


def _pct(share: float) -> int:
    return round(share * 100)


def attendance_drop(s: PupilSignals, rules: RuleSettings) -> AlertDraft | None:
    """Attendance share over the last two weeks fell by the margin against the four before."""
    if s.recent_share is None or s.earlier_share is None:
        return None
    if s.earlier_share - s.recent_share < rules.drop_margin - 1e-9:
        return None
    return AlertDraft(
        RuleName.ATTENDANCE_DROP,
        f"Attendance fell from {_pct(s.earlier_share)} % to {_pct(s.recent_share)} % "
        "of booked time (last two weeks against the four before).",
        {
            "recent_share": round(s.recent_share, 4),
            "earlier_share": round(s.earlier_share, 4),
            "margin": rules.drop_margin,
            "recent_booked_minutes": round(s.recent_booked_seconds / 60),
            "earlier_booked_minutes": round(s.earlier_booked_seconds / 60),
        },
    )


def missed_in_a_row(s: PupilSignals, rules: RuleSettings) -> AlertDraft | None:
    """The last N booked lessons were all missed."""
    run = list(s.last_outcomes[-rules.missed_run :])
    if len(run) < rules.missed_run or any(o != "missed" for o in run):
        return None
    return AlertDraft(
        RuleName.MISSED_IN_A_ROW,
        f"Missed the last {rules.missed_run} booked lessons.",
        {"missed_in_a_row": rules.missed_run},
    )


def no_lesson_joined(s: PupilSignals, rules: RuleSettings) -> AlertDraft | None:
    """No lesson joined for N school days while lessons were booked in them."""
    if s.school_days_since_joined < rules.school_days or s.booked_since_joined <= 0:
        return None
    return AlertDraft(
        RuleName.NO_LESSON_JOINED,
        f"No lesson joined for {s.school_days_since_joined} school days "
        f"({s.booked_since_joined} booked).",
        {
            "school_days_since_joined": s.school_days_since_joined,
            "booked_since_joined": s.booked_since_joined,
        },
    )


def bookings_stopped(s: PupilSignals, rules: RuleSettings) -> AlertDraft | None:
    """Lessons were booked in the four weeks before, none in the last week or the next."""
    if s.recent_bookings > 0 or s.earlier_bookings < rules.min_earlier_bookings:
        return None
    return AlertDraft(
        RuleName.BOOKINGS_STOPPED,
        f"No lessons booked for last week or the coming one ({s.earlier_bookings} "
        "in the four weeks before).",
        {"earlier_bookings": s.earlier_bookings, "recent_bookings": 0},
    )


def robot_unused(s: PupilSignals, rules: RuleSettings) -> AlertDraft | None:
    """The pupil's robot carried no lesson they were in for N school days."""
    days = s.robot_unused_school_days
    if days is None or days < rules.school_days:
        return None
    return AlertDraft(
        RuleName.ROBOT_UNUSED,
        f"Robot {s.robot_name or ''} unused for {days} school days.".replace("  ", " "),
        {"robot": s.robot_name, "unused_school_days": days},
    )


Rule = Callable[[PupilSignals, RuleSettings], AlertDraft | None]
RULES: dict[RuleName, Rule] = {
    RuleName.ATTENDANCE_DROP: attendance_drop,
    RuleName.MISSED_IN_A_ROW: missed_in_a_row,
    RuleName.NO_LESSON_JOINED: no_lesson_joined,
    RuleName.BOOKINGS_STOPPED: bookings_stopped,
    RuleName.ROBOT_UNUSED: robot_unused,
}


def evaluate(signals: PupilSignals, rules: RuleSettings) -> list[AlertDraft]:
    """Every alert the pupil's signals call for, in the order of ``RULES``."""
    return [draft for rule in RULES.values() if (draft := rule(signals, rules)) is not None]
