"""What a lesson gave the pupil: usage and outcome of one booking from its session timeline.

Plain Python: no I/O, time is a parameter. Every instant is aware UTC, so a
lesson across the clock change is as long as it really was.
"""

from __future__ import annotations

import enum
import itertools
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

__all__ = [
    "DEFAULT_ATTENDED_SHARE",
    "BookingFacts",
    "CancelReason",
    "Outcome",
    "TimelineEvent",
    "Usage",
    "cancel_reason_of",
    "describe",
    "last_four_weeks",
    "lesson_outcome",
    "school_days",
    "usage_of",
    "week_monday",
]

DEFAULT_ATTENDED_SHARE = 0.8
PUPIL = "pupil"


class Outcome(enum.StrEnum):
    """What became of a booked lesson."""

    ATTENDED = "attended"
    PARTIAL = "partial"
    MISSED = "missed"
    CANCELLED = "cancelled"


class CancelReason(enum.StrEnum):
    """Why a lesson did not happen for the pupil (cancelled, or missed for a known cause)."""

    UNWELL = "unwell"
    TREATMENT = "treatment"
    DEVICE_FAULT = "device_fault"
    ROBOT_NOT_MOVED = "robot_not_moved"
    SCHOOL_CLOSED = "school_closed"
    LESSON_REMOVED = "lesson_removed"
    OTHER = "other"


REASON_WORDS = {
    CancelReason.UNWELL: "unwell",
    CancelReason.TREATMENT: "treatment",
    CancelReason.DEVICE_FAULT: "device fault",
    CancelReason.ROBOT_NOT_MOVED: "robot not moved",
    CancelReason.SCHOOL_CLOSED: "school closed",
    CancelReason.LESSON_REMOVED: "lesson removed",
    CancelReason.OTHER: "other reason",
}

_REASON_HINTS: tuple[tuple[CancelReason, tuple[str, ...]], ...] = (
    (CancelReason.UNWELL, ("unwell", "ill", "sick", "poorly")),
    (CancelReason.TREATMENT, ("treatment", "dialysis", "chemo", "appointment", "therapy", "scan")),
    (CancelReason.DEVICE_FAULT, ("device", "fault", "broken", "battery", "offline", "tablet")),
    (CancelReason.ROBOT_NOT_MOVED, ("not moved", "move", "moved", "wrong room")),
    (CancelReason.SCHOOL_CLOSED, ("closed", "closure", "inset", "holiday", "strike", "snow")),
    (CancelReason.LESSON_REMOVED, ("removed", "vanished", "timetable", "no longer")),
)


def cancel_reason_of(text: str | None) -> CancelReason:
    """The category of a free-text cancellation reason ("too unwell today" -> ``unwell``)."""
    words = (text or "").lower()
    for reason, hints in _REASON_HINTS:
        if any(re.search(rf"\b{re.escape(hint)}\b", words) for hint in hints):
            return reason
    return CancelReason.OTHER


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One entry of a session's timeline, as stored (``seq`` orders equal instants)."""

    at: datetime
    kind: str
    participant: str | None = None
    data: dict[str, object] | None = None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Usage:
    """What the pupil's end did in one lesson (all durations in whole seconds)."""

    first_join: datetime | None
    last_leave: datetime | None
    present_seconds: int
    gaps: int
    gap_seconds: int
    reconnects: int
    hands_raised: int
    camera_seconds: int
    quality_samples: int
    rtt_ms: float | None
    loss_pct: float | None
    quality: str  # good / fair / poor / unknown


@dataclass(frozen=True, slots=True)
class BookingFacts:
    """What is known of a booking besides its timeline."""

    starts_at: datetime
    ends_at: datetime
    status: str  # booked / completed / cancelled
    cancel_reason: str | None = None
    failed_move_id: str | None = None  # a move to this lesson that failed or was never done


@dataclass(frozen=True, slots=True)
class LessonOutcome:
    """The outcome of a booking and the cause behind it, if any."""

    outcome: Outcome
    reason: CancelReason | None
    booked_seconds: int
    usage: Usage
    move_id: str | None = None


def _ordered(events: Iterable[TimelineEvent]) -> list[TimelineEvent]:
    """Events by instant: a late-arriving event takes its place by ``at``, not by arrival."""
    return sorted(events, key=lambda e: (e.at, e.seq))


def _presence(
    events: Sequence[TimelineEvent], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The pupil's connected stretches, clipped to ``[start, end)``."""
    stretches: list[tuple[datetime, datetime]] = []
    since: datetime | None = None
    sockets = 0  # a rejoin may open before the dropped socket's "left" arrives
    for event in events:
        if event.participant == PUPIL and event.kind in {"joined", "reconnected"}:
            sockets += 1
            since = since or event.at
        elif event.participant == PUPIL and event.kind == "left":
            sockets = max(sockets - 1, 0)
        elif event.kind == "ended":
            sockets = 0
        if sockets == 0 and since is not None:
            stretches.append((since, event.at))
            since = None
    if since is not None:  # never saw them leave: the session ran to the lesson's end
        stretches.append((since, end))
    clipped = [(max(a, start), min(b, end)) for a, b in stretches]
    return [(a, b) for a, b in clipped if b > a]


def _camera_seconds(
    events: Sequence[TimelineEvent], present: list[tuple[datetime, datetime]]
) -> int:
    on_since: datetime | None = None
    spans: list[tuple[datetime, datetime]] = []
    for event in events:
        if event.kind == "camera" and event.participant == PUPIL:
            on = bool((event.data or {}).get("on"))
            if on and on_since is None:
                on_since = event.at
            elif not on and on_since is not None:
                spans.append((on_since, event.at))
                on_since = None
        elif event.participant == PUPIL and event.kind == "left" and on_since is not None:
            spans.append((on_since, event.at))  # leaving turns the camera off
            on_since = None
    if on_since is not None and present:
        spans.append((on_since, present[-1][1]))
    return sum(_overlap(span, present) for span in spans)


def _overlap(span: tuple[datetime, datetime], stretches: list[tuple[datetime, datetime]]) -> int:
    total = 0.0
    for a, b in stretches:
        lo, hi = max(a, span[0]), min(b, span[1])
        if hi > lo:
            total += (hi - lo).total_seconds()
    return int(total)


def _quality(events: Sequence[TimelineEvent]) -> tuple[int, float | None, float | None, str]:
    rtts, losses = [], []
    for event in events:
        if event.kind != "quality" or not event.data:
            continue
        rtt, loss = event.data.get("rtt_ms"), event.data.get("loss_pct")
        if isinstance(rtt, int | float):
            rtts.append(float(rtt))
        if isinstance(loss, int | float):
            losses.append(float(loss))
    samples = sum(1 for e in events if e.kind == "quality")
    rtt_ms = statistics.median(rtts) if rtts else None
    loss_pct = statistics.fmean(losses) if losses else None
    if rtt_ms is None and loss_pct is None:
        return samples, None, None, "unknown"
    if (loss_pct or 0) > 5 or (rtt_ms or 0) > 400:
        label = "poor"
    elif (loss_pct or 0) > 2 or (rtt_ms or 0) > 250:
        label = "fair"
    else:
        label = "good"
    return samples, rtt_ms, loss_pct, label


def usage_of(events: Iterable[TimelineEvent], start: datetime, end: datetime) -> Usage:
    """The pupil's usage of a lesson ``[start, end)`` from its session's timeline."""
    ordered = _ordered(events)
    present = _presence(ordered, start, end)
    gaps = [(b[0] - a[1]).total_seconds() for a, b in itertools.pairwise(present)]
    samples, rtt_ms, loss_pct, label = _quality(ordered)
    return Usage(
        first_join=present[0][0] if present else None,
        last_leave=present[-1][1] if present else None,
        present_seconds=int(sum((b - a).total_seconds() for a, b in present)),
        gaps=len(gaps),
        gap_seconds=int(sum(gaps)),
        reconnects=sum(1 for e in ordered if e.participant == PUPIL and e.kind == "reconnected"),
        hands_raised=sum(
            1
            for e in ordered
            if e.kind == "control" and (e.data or {}).get("control") == "raise_hand"
        ),
        camera_seconds=_camera_seconds(ordered, present),
        quality_samples=samples,
        rtt_ms=rtt_ms,
        loss_pct=loss_pct,
        quality=label,
    )


def lesson_outcome(
    facts: BookingFacts,
    events: Iterable[TimelineEvent],
    *,
    attended_share: float = DEFAULT_ATTENDED_SHARE,
) -> LessonOutcome:
    """The outcome of a lesson that has ended.

    ``attended``: present for at least ``attended_share`` of the booked time;
    ``partial``: present, but less; ``missed``: never present (with the cause
    ``robot_not_moved`` when a move to the lesson failed); ``cancelled`` with
    the category of its reason.
    """
    if not 0 < attended_share <= 1:
        raise ValueError("the attended share is a fraction in (0, 1]")
    booked = int((facts.ends_at - facts.starts_at).total_seconds())
    usage = usage_of(events, facts.starts_at, facts.ends_at)
    if facts.status == "cancelled":
        return LessonOutcome(
            Outcome.CANCELLED, cancel_reason_of(facts.cancel_reason), booked, usage
        )
    if usage.present_seconds <= 0:
        if facts.failed_move_id is not None:
            return LessonOutcome(
                Outcome.MISSED,
                CancelReason.ROBOT_NOT_MOVED,
                booked,
                usage,
                move_id=facts.failed_move_id,
            )
        return LessonOutcome(Outcome.MISSED, None, booked, usage)
    # Compare whole seconds with a tolerance of one: 48 of 60 minutes is 80 %.
    attended = usage.present_seconds + 1 >= attended_share * booked
    outcome = Outcome.ATTENDED if attended else Outcome.PARTIAL
    return LessonOutcome(outcome, None, booked, usage, move_id=facts.failed_move_id)


def describe(outcome: str, reason: str | None, present_seconds: int, booked_seconds: int) -> str:
    """Words for a past lesson: "Attended 52 of 60 min", "Missed: robot not moved"."""
    present, booked = round(present_seconds / 60), round(booked_seconds / 60)
    words = REASON_WORDS.get(CancelReason(reason)) if reason else None
    if outcome == Outcome.ATTENDED:
        return f"Attended {present} of {booked} min"
    if outcome == Outcome.PARTIAL:
        return f"Partly attended: {present} of {booked} min"
    if outcome == Outcome.MISSED:
        return f"Missed: {words}" if words else "Missed"
    return f"Cancelled: {words}" if words else "Cancelled"


def week_monday(day: date) -> date:
    """The Monday of the school week ``day`` falls in."""
    return day - timedelta(days=day.weekday())


def last_four_weeks(end: date) -> date:
    """The first day of "the last 4 weeks" up to ``end``: the Monday three weeks before
    ``end``'s week, so the period is four whole school weeks (the last up to ``end``) and
    every week's figure counts the same lessons on the dashboard and on a pupil's page (a
    range starting on a Tuesday would count its first week without the Monday in the one
    and whole in the other, as a pupil's weeks are always whole)."""
    return week_monday(end) - timedelta(weeks=3)


def school_days(
    first: date,
    last: date,
    *,
    weekdays: Iterable[int] = (0, 1, 2, 3, 4),
    closures: Iterable[tuple[date, date]] = (),
) -> list[date]:
    """School days from ``first`` to ``last`` (inclusive): teaching weekdays outside closures."""
    days, shut = set(weekdays), list(closures)
    out = []
    day = first
    while day <= last:
        if day.weekday() in days and not any(a <= day <= b for a, b in shut):
            out.append(day)
        day += timedelta(days=1)
    return out
