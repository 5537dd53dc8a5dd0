"""Each disengagement rule on small hand-checked figures: fires, and does not just short of it."""

from __future__ import annotations

from telepresence.engagement.disengagement.rules import (
    PupilSignals,
    RuleName,
    RuleSettings,
    attendance_drop,
    bookings_stopped,
    evaluate,
    missed_in_a_row,
    no_lesson_joined,
    robot_unused,
)

RULES = RuleSettings()


def signals(**kw: object) -> PupilSignals:
    return PupilSignals(pupil_id="p1", **kw)  # type: ignore[arg-type]


def test_attendance_drop_fires_at_the_margin_and_carries_the_figures():
    draft = attendance_drop(signals(recent_share=0.6, earlier_share=0.8), RULES)
    assert draft is not None
    assert draft.rule is RuleName.ATTENDANCE_DROP
    assert draft.figures["recent_share"] == 0.6
    assert draft.figures["earlier_share"] == 0.8
    assert "80 % to 60 %" in draft.summary
    assert attendance_drop(signals(recent_share=0.61, earlier_share=0.8), RULES) is None
    assert attendance_drop(signals(recent_share=0.5, earlier_share=0.8), RuleSettings(0.35)) is None
    assert attendance_drop(signals(recent_share=None, earlier_share=0.8), RULES) is None
    assert attendance_drop(signals(recent_share=0.1), RULES) is None


def test_three_missed_in_a_row():
    assert missed_in_a_row(signals(last_outcomes=["attended", "missed", "missed"]), RULES) is None
    draft = missed_in_a_row(
        signals(last_outcomes=["attended", "missed", "missed", "missed"]), RULES
    )
    assert draft is not None
    assert draft.figures == {"missed_in_a_row": 3}
    assert missed_in_a_row(signals(last_outcomes=["missed", "missed"]), RULES) is None
    assert missed_in_a_row(signals(last_outcomes=["missed", "partial", "missed"]), RULES) is None


def test_no_lesson_joined_for_five_school_days_while_booked():
    assert no_lesson_joined(signals(school_days_since_joined=5, booked_since_joined=2), RULES)
    assert (
        no_lesson_joined(signals(school_days_since_joined=4, booked_since_joined=9), RULES) is None
    )
    # nothing booked: nothing to join, so no alert
    assert (
        no_lesson_joined(signals(school_days_since_joined=20, booked_since_joined=0), RULES) is None
    )


def test_bookings_stopped():
    draft = bookings_stopped(signals(recent_bookings=0, earlier_bookings=6), RULES)
    assert draft is not None
    assert draft.figures["earlier_bookings"] == 6
    assert bookings_stopped(signals(recent_bookings=1, earlier_bookings=6), RULES) is None
    assert bookings_stopped(signals(recent_bookings=0, earlier_bookings=2), RULES) is None


def test_robot_unused_for_five_school_days():
    draft = robot_unused(signals(robot_name="Robbie", robot_unused_school_days=5), RULES)
    assert draft is not None
    assert draft.summary == "Robot Robbie unused for 5 school days."
    assert robot_unused(signals(robot_name="Robbie", robot_unused_school_days=4), RULES) is None
    assert robot_unused(signals(), RULES) is None


def test_evaluate_lists_every_rule_that_fires():
    drifting = signals(
        recent_share=0.1,
        earlier_share=0.9,
        last_outcomes=["missed"] * 3,
        school_days_since_joined=6,
        booked_since_joined=3,
        recent_bookings=3,
        robot_unused_school_days=6,
    )
    assert [d.rule for d in evaluate(drifting, RULES)] == [
        RuleName.ATTENDANCE_DROP,
        RuleName.MISSED_IN_A_ROW,
        RuleName.NO_LESSON_JOINED,
        RuleName.ROBOT_UNUSED,
    ]
    assert evaluate(signals(recent_share=0.9, earlier_share=0.9, recent_bookings=4), RULES) == []
