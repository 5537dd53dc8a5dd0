"""Outcomes of lessons from hand-checked session timelines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from telepresence.engagement.domain import (
    BookingFacts,
    CancelReason,
    Outcome,
    TimelineEvent,
    cancel_reason_of,
    describe,
    lesson_outcome,
    school_days,
    usage_of,
    week_monday,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
END = START + timedelta(minutes=60)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def ev(minutes: float, kind: str, who: str | None = "pupil", seq: int = 0, **data: object):
    return TimelineEvent(at=at(minutes), kind=kind, participant=who, data=dict(data), seq=seq)


def facts(**kw: object) -> BookingFacts:
    return BookingFacts(**({"starts_at": START, "ends_at": END, "status": "booked"} | kw))  # type: ignore[arg-type]


def test_a_whole_lesson_is_attended():
    events = [ev(-3, "opened", None), ev(-1, "joined"), ev(61, "left"), ev(65, "ended", None)]
    result = lesson_outcome(facts(), events)
    assert result.outcome is Outcome.ATTENDED
    assert result.usage.present_seconds == 3600  # clipped to the lesson, not the window
    assert result.usage.first_join == START
    assert result.usage.last_leave == END
    assert result.booked_seconds == 3600
    assert describe("attended", None, 3600, 3600) == "Attended 60 of 60 min"


def test_reconnect_gaps_are_counted_and_not_present():
    # joined 0-20, dropped 20-24 (4 min), back 24-40, dropped 40-48 (8 min), back 48-60
    events = [
        ev(0, "joined"),
        ev(20, "left"),
        ev(24, "reconnected"),
        ev(40, "left"),
        ev(48, "reconnected"),
        ev(62, "ended", None),
    ]
    usage = usage_of(events, START, END)
    assert usage.present_seconds == 48 * 60
    assert (usage.gaps, usage.gap_seconds, usage.reconnects) == (2, 12 * 60, 2)
    assert lesson_outcome(facts(), events).outcome is Outcome.ATTENDED  # 48/60 = 80 %


def test_just_under_the_share_is_partial_and_the_share_is_configurable():
    events = [ev(0, "joined"), ev(47, "left")]
    assert lesson_outcome(facts(), events).outcome is Outcome.PARTIAL
    assert lesson_outcome(facts(), events, attended_share=0.75).outcome is Outcome.ATTENDED
    assert describe("partial", None, 47 * 60, 3600) == "Partly attended: 47 of 60 min"
    with pytest.raises(ValueError, match="fraction"):
        lesson_outcome(facts(), events, attended_share=0)


def test_late_events_take_their_place_by_time_not_arrival():
    # The "left" at minute 10 arrived (seq) after the rejoin at 30 was stored.
    events = [ev(0, "joined", seq=1), ev(30, "reconnected", seq=2), ev(10, "left", seq=3)]
    usage = usage_of(events, START, END)
    assert usage.present_seconds == (10 + 30) * 60
    assert usage.gaps == 1
    assert usage.gap_seconds == 20 * 60
    # Recomputing with a later-arriving leave at 50 changes the result, idempotently.
    more = [*events, ev(50, "left", seq=4)]
    assert usage_of(more, START, END).present_seconds == (10 + 20) * 60
    assert usage_of(list(reversed(more)), START, END) == usage_of(more, START, END)


def test_an_overlapping_rejoin_keeps_the_pupil_present():
    # The tablet rejoined at 20 before its dropped socket's "left" (21) was recorded.
    events = [ev(0, "joined"), ev(20, "reconnected"), ev(21, "left"), ev(60, "left")]
    usage = usage_of(events, START, END)
    assert usage.present_seconds == 3600
    assert usage.gaps == 0


def test_never_joined_is_missed_and_a_failed_move_is_told_apart():
    events = [ev(-5, "opened", None), ev(0, "joined", "robot"), ev(65, "ended", None)]
    plain = lesson_outcome(facts(), events)
    assert (plain.outcome, plain.reason) == (Outcome.MISSED, None)
    moved = lesson_outcome(facts(failed_move_id="mv-1"), events)
    assert (moved.outcome, moved.reason, moved.move_id) == (
        Outcome.MISSED,
        CancelReason.ROBOT_NOT_MOVED,
        "mv-1",
    )
    assert describe("missed", "robot_not_moved", 0, 3600) == "Missed: robot not moved"
    assert describe("missed", None, 0, 3600) == "Missed"


def test_cancelled_lessons_carry_the_category_of_their_reason():
    result = lesson_outcome(facts(status="cancelled", cancel_reason="too unwell today"), [])
    assert (result.outcome, result.reason) == (Outcome.CANCELLED, CancelReason.UNWELL)
    assert cancel_reason_of("Dialysis moved to the morning") is CancelReason.TREATMENT
    assert cancel_reason_of("Robot battery flat") is CancelReason.DEVICE_FAULT
    assert cancel_reason_of("robot not moved") is CancelReason.ROBOT_NOT_MOVED
    assert cancel_reason_of("INSET day") is CancelReason.SCHOOL_CLOSED
    assert cancel_reason_of("lesson removed from timetable") is CancelReason.LESSON_REMOVED
    assert cancel_reason_of("") is CancelReason.OTHER
    assert describe("cancelled", "unwell", 0, 3600) == "Cancelled: unwell"


def test_a_lesson_across_the_clock_change_counts_real_minutes():
    # 00:30 BST to 02:30 GMT on 25 October 2026: three hours of wall time, two on the clock face.
    london = ZoneInfo("Europe/London")
    start = datetime(2026, 10, 25, 0, 30, tzinfo=london)
    end = datetime(2026, 10, 25, 2, 30, tzinfo=london)
    assert (end.astimezone(UTC) - start.astimezone(UTC)) == timedelta(hours=3)
    events = [
        TimelineEvent(start.astimezone(UTC), "joined", "pupil"),
        # 01:30 GMT comes after 01:30 BST by an hour
        TimelineEvent(datetime(2026, 10, 25, 1, 30, tzinfo=london, fold=1), "left", "pupil"),
    ]
    result = lesson_outcome(
        BookingFacts(start.astimezone(UTC), end.astimezone(UTC), "booked"), events
    )
    assert result.booked_seconds == 3 * 3600
    assert result.usage.present_seconds == 2 * 3600
    assert result.outcome is Outcome.PARTIAL  # 2 of 3 hours


def test_controls_camera_and_quality():
    events = [
        ev(0, "joined"),
        ev(1, "camera", on=True),
        ev(5, "control", "robot", control="raise_hand"),
        ev(9, "control", "robot", control="lower_hand"),
        ev(11, "camera", on=False),
        ev(30, "control", "robot", control="raise_hand"),
        ev(40, "camera", on=True),
        ev(50, "left"),  # leaving turns the camera off
        ev(2, "quality", rtt_ms=100, loss_pct=1.0),
        ev(4, "quality", rtt_ms=300, loss_pct=3.0),
        ev(6, "quality", rtt_ms=120, loss_pct=2.0),
    ]
    usage = usage_of(events, START, END)
    assert usage.hands_raised == 2
    assert usage.camera_seconds == (10 + 10) * 60
    assert (usage.quality_samples, usage.rtt_ms, usage.loss_pct) == (3, 120.0, 2.0)
    assert usage.quality == "good"
    poor = usage_of([ev(0, "quality", loss_pct=9.0)], START, END)
    assert poor.quality == "poor"
    assert poor.present_seconds == 0
    assert usage_of([], START, END).quality == "unknown"


def test_school_days_and_weeks():
    days = school_days(
        date(2026, 3, 2), date(2026, 3, 15), closures=[(date(2026, 3, 4), date(2026, 3, 5))]
    )
    assert len(days) == 8
    assert date(2026, 3, 4) not in days
    assert date(2026, 3, 7) not in days
    assert week_monday(date(2026, 3, 8)) == date(2026, 3, 2)
