"""Operational alert rules on hand-made facts: when each opens, and when its cause has gone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from telepresence.engagement.operational import rules
from telepresence.engagement.operational.rules import OpsRule

NOW = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)


def test_a_move_escalated_or_failed_is_not_done_one_pending_or_done_is_not_an_alert() -> None:
    line, lesson = "'Robbie' from S12 to Lab 3 by 10:00", "Maths at 10:00"
    escalated = rules.move_not_done("m1", "escalated", None, line, lesson)
    assert escalated is not None
    assert (escalated.rule, escalated.subject_key) == (OpsRule.MOVE_NOT_DONE, "move:m1")
    assert escalated.summary == (
        "Robot move not done before Maths at 10:00: 'Robbie' from S12 to Lab 3 by 10:00 "
        "(not confirmed in time)."
    )
    failed = rules.move_not_done("m1", "failed", "door locked", line, lesson)
    assert failed is not None
    assert failed.figures["reason"] == "door locked"
    for status in ("pending", "assigned", "done"):
        assert rules.move_not_done("m1", status, None, line, lesson) is None


def test_a_move_alert_clears_when_the_move_is_done_or_gone_only() -> None:
    assert rules.move_cleared("done")
    assert rules.move_cleared(None)
    for status in ("escalated", "failed", "pending", "assigned"):
        assert not rules.move_cleared(status)


def test_an_active_robot_offline_before_its_lesson_opens_one_per_robot() -> None:
    at = NOW + timedelta(minutes=20)
    draft = rules.device_offline("d1", "Robbie", False, "active", "Maths at 09:50", at)
    assert draft is not None
    assert (draft.rule, draft.subject_key) == (OpsRule.DEVICE_OFFLINE, "device:d1")
    assert draft.summary == "Robot 'Robbie' is offline before Maths at 09:50."
    assert rules.device_offline("d1", "Robbie", True, "active", "Maths", at) is None
    assert rules.device_offline("d1", "Robbie", False, "maintenance", "Maths", at) is None


def test_an_offline_alert_clears_when_the_robot_is_back_or_out_of_use() -> None:
    assert rules.offline_cleared(True, "active")
    assert rules.offline_cleared(False, "maintenance")
    assert rules.offline_cleared(None, None)  # the robot was deleted
    assert not rules.offline_cleared(False, "active")


def test_a_battery_alert_clears_on_charge_when_charged_or_once_the_lesson_is_over() -> None:
    ends = NOW + timedelta(hours=1)
    draft = rules.battery_low("d1", "Robbie", -3.6, "Maths at 10:00", ends)
    assert draft.subject_key == "device:d1"
    assert "about 0 % left" in draft.summary  # never a negative level
    assert not rules.battery_cleared(15, False, ends, NOW)
    assert not rules.battery_cleared(None, None, ends, NOW)
    assert rules.battery_cleared(15, True, ends, NOW)
    assert rules.battery_cleared(rules.BATTERY_OK_PCT, False, ends, NOW)
    assert not rules.battery_cleared(rules.BATTERY_OK_PCT - 1, False, ends, NOW)
    assert rules.battery_cleared(15, False, ends, ends)


def test_too_unwell_today_is_about_the_day_and_clears_when_it_is_over() -> None:
    until = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
    draft = rules.unwell_today(date(2026, 3, 9), until, ["10:00 Maths"])
    assert (draft.rule, draft.subject_key) == (OpsRule.UNWELL_TODAY, "day:2026-03-09")
    assert draft.summary == "Too unwell for lessons today (10:00 Maths)."
    nothing = rules.unwell_today(date(2026, 3, 9), until, [])
    assert "no lessons were left to cancel" in nothing.summary
    assert not rules.unwell_cleared(until, until - timedelta(seconds=1))
    assert rules.unwell_cleared(until, until)
    assert rules.unwell_cleared(None, NOW)


def test_operational_rule_names_fit_the_alert_column_and_differ_from_disengagement() -> None:
    from telepresence.engagement.disengagement.rules import RuleName

    assert all(len(rule.value) <= 30 for rule in OpsRule)
    assert not {r.value for r in OpsRule} & {r.value for r in RuleName}
