"""What the rota tells people: clock phrases, quick reasons, folded changes, walks, stand-ins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.rota.domain.wording import (
    ChangeNote,
    HelperDay,
    cant_reason,
    done_too_early,
    fold_changes,
    in_minutes,
    undo_open,
    walk_shortfall,
    who_else,
)

LONDON = ZoneInfo("Europe/London")
T = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 09:00 in London (GMT)


def m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


def test_in_minutes_only_when_near_and_never_a_count_of_hundreds():
    assert in_minutes(T + m(25), T) == "in 25 min"
    assert in_minutes(T + m(0.5), T) == "now"
    assert in_minutes(T + m(60), T) == "in 60 min"
    assert in_minutes(T + m(497), T) is None
    assert in_minutes(T - m(1), T) is None


def test_done_is_too_early_only_well_before_the_window():
    assert done_too_early(T + m(31), T)
    assert not done_too_early(T + m(29), T)
    assert not done_too_early(T - m(5), T)


def test_undo_is_open_for_five_minutes_after_done():
    assert undo_open(T, T + m(4.9))
    assert not undo_open(T, T + m(5))
    assert not undo_open(None, T)
    assert not undo_open(T + m(1), T)  # a clock that went backwards


def test_quick_reasons_join_the_free_text_and_other_needs_words():
    assert cant_reason("teaching", "") == "Teaching a class then"
    assert cant_reason("not_found", " not in  Lab 3 ") == "Robot not found: not in Lab 3"
    assert cant_reason("other", "Fire drill") == "Fire drill"
    assert cant_reason("", "Fire drill") == "Fire drill"
    with pytest.raises(ValueError, match="say why"):
        cant_reason("other", "")
    with pytest.raises(ValueError, match="say why"):
        cant_reason("", " x ")
    with pytest.raises(ValueError, match="unknown reason"):
        cant_reason("nap", "tired")


def test_changes_are_one_line_a_move_in_time_order_with_the_robot_named():
    notes = [
        ChangeNote(T + m(5), "b", "no longer yours: Hall → S12 by 11:00", "Rover"),
        ChangeNote(T + m(1), "a", "new for you: S12 → Lab 3 by 10:00", "Robbie"),
        ChangeNote(T + m(3), "a", "new for you: S12 → Lab 3 by 10:00", "Robbie"),
    ]
    assert fold_changes(notes, LONDON) == [
        "09:03 · Robbie: new for you: S12 → Lab 3 by 10:00",
        "09:05 · Rover: no longer yours: Hall → S12 by 11:00",
    ]


def test_a_move_given_then_taken_away_again_is_not_told_at_all():
    notes = [
        ChangeNote(T, "a", "given to you by staff: S12 → Lab 3 by 10:00", "Robbie"),
        ChangeNote(T + m(1), "a", "no longer yours: S12 → Lab 3 by 10:00", "Robbie"),
        ChangeNote(T + m(2), "b", "you can't: Hall → S12 by 11:00", None),
        ChangeNote(T + m(3), "b", "new for you: Hall → S12 by 11:00", None),
        ChangeNote(T + m(4), "c", "no longer needed: Hall → Lab 3 by 12:00", None),
    ]
    assert fold_changes(notes, LONDON) == ["09:04 · no longer needed: Hall → Lab 3 by 12:00"]


def test_walk_shortfall_is_what_the_window_lacks():
    assert walk_shortfall(T, T + m(5), m(9)) == m(4)
    assert walk_shortfall(T, T + m(10), m(9)) == timedelta()


def test_who_else_ranks_free_then_busy_then_off_duty_then_away():
    day = ((T - m(60), T + m(300)),)
    morning = ((T - m(120), T - m(30)),)
    helpers = [
        HelperDay("Away", True, day, ()),
        HelperDay("Off", False, morning, ()),
        HelperDay("Busy", False, day, ((T - m(2), T + m(12)),)),
        HelperDay("Free", False, day, ()),
        HelperDay("None", False, (), ()),
    ]
    lines = who_else(T, T + m(10), m(5), helpers, LONDON)
    assert lines == [
        "Free: on duty, free, in time",
        "Busy: on duty, busy until 09:12, about 7 min late",
        "Off: off duty or on a break then (working 07:00 to 08:30), 40 min extra",
        "None: not on duty that day",
        "Away: away today",
    ]


def test_who_else_counts_the_carrying_for_a_window_shorter_than_it():
    day = ((T - m(60), T + m(300)),)
    lunch = ((T - m(60), T + m(5)), (T + m(35), T + m(300)))
    helpers = [HelperDay("Jo", False, day, ()), HelperDay("Lunch", False, lunch, ())]
    assert who_else(T, T, m(9), helpers, LONDON) == [
        "Jo: on duty, free, about 9 min late",
        "Lunch: off duty or on a break then (working 08:00 to 09:05, 09:35 to 14:00), 4 min extra",
    ]
