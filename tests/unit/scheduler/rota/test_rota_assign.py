"""Assigning moves to assistants on small hand-checked days.

Default walking: 2 minutes on a floor, 4 to another floor, 8 to another
building; carrying adds 1 minute of handling; at most 10 minutes late.
"""

from datetime import timedelta

import pytest
from rota_factories import (
    GYM,
    LAB3,
    S12,
    S14,
    assistant,
    at,
    lesson,
    move,
    robot,
)

from scheduler.rota.domain.assignment import assign, assign_first_free, replan
from scheduler.rota.domain.moves import (
    NO_ASSISTANT_ON_DUTY,
    NOBODY_FREE,
    PINNED_ASSISTANT_CANNOT,
    REACHED_CAP,
    TOO_LATE,
    AssignmentRules,
    Assistant,
    DutyWindow,
    Pin,
    RotaError,
    changed_assignments,
    derive_moves,
)
from scheduler.rota.domain.walking import WalkingRules

WALK = WalkingRules()
EARLY = at("06:00")


def hhmm(instant):
    return None if instant is None else f"{instant:%H:%M}"


def test_the_assistant_walks_to_the_robot_then_carries_it():
    carry = move(S14, GYM, "09:40", "09:45")
    plan = assign([carry], [assistant("ann", location=S12)], WALK, now=EARLY)
    (only,) = plan.assignments
    # S12 -> S14 is 2 minutes; S14 -> gym (another building) 8 plus 1 handling.
    assert (only.assistant_id, hhmm(only.departs_at), hhmm(only.done_at)) == (
        "ann",
        "09:38",
        "09:49",
    )
    assert only.late_by == timedelta(minutes=4)
    assert only.late


def test_nobody_is_asked_during_a_break():
    carry = move(S12, S14, "09:40", "09:45")
    ann = assistant("ann", breaks=(("09:30", "10:00"),), location=S12)
    bob = assistant("bob", location=GYM)
    plan = assign([carry], [ann, bob], WALK, now=EARLY)
    assert plan.assignments[0].assistant_id == "bob"
    assert hhmm(plan.assignments[0].departs_at) == "09:32"
    alone = assign([carry], [ann], WALK, now=EARLY)
    assert alone.assignments[0].assistant_id is None
    assert alone.assignments[0].reason == NO_ASSISTANT_ON_DUTY  # on a break is off duty
    patient = AssignmentRules(max_lateness=timedelta(minutes=30))
    after_break = assign([carry], [ann], WALK, now=EARLY, rules=patient).assignments[0]
    assert (hhmm(after_break.departs_at), hhmm(after_break.done_at)) == ("10:00", "10:03")


def test_a_cap_is_respected_and_reported():
    moves = [move(S12, S14, "09:40", "09:45"), move(S14, S12, "10:35", "10:40")]
    capped = assistant("ann", location=S12, cap=1)
    plan = assign(moves, [capped, assistant("bob", location=GYM)], WALK, now=EARLY)
    assert sorted(a.assistant_id or "" for a in plan.assignments) == ["ann", "bob"]
    alone = assign(moves, [capped], WALK, now=EARLY)
    assert [a.reason for a in alone.assignments] == [None, REACHED_CAP]


def test_pins_win_over_proximity_and_are_flagged_when_impossible():
    carry = move(S12, S14, "09:40", "09:45")
    near, far = assistant("ann", location=S12), assistant("bob", location=GYM)
    plan = assign([carry], [near, far], WALK, [Pin(carry.id, "bob")], now=EARLY)
    assert (plan.assignments[0].assistant_id, plan.assignments[0].pinned) == ("bob", True)
    off_sick = assistant("bob", absent=True)
    flagged = assign([carry], [near, off_sick], WALK, [Pin(carry.id, "bob")], now=EARLY)
    assert flagged.assignments[0].assistant_id is None
    assert flagged.assignments[0].reason == PINNED_ASSISTANT_CANNOT


def test_the_assistant_already_near_is_preferred():
    carry = move(S12, S14, "10:35", "11:00")
    plan = assign(
        [carry], [assistant("ann", location=GYM), assistant("bob", location=S12)], WALK, now=EARLY
    )
    assert plan.assignments[0].assistant_id == "bob"


def test_two_robots_one_assistant_in_the_order_that_is_least_late():
    robbie = move(S12, S14, "09:40", "09:45", device_id="robbie")
    rosie = move(LAB3, S12, "09:40", "09:45", device_id="rosie")
    plan = assign([robbie, rosie], [assistant("ann", location=S12)], WALK, now=EARLY)
    by_device = {a.move.device_id: a for a in plan.assignments}
    # Rosie first (walk up 4, carry down 5: done 09:45), then Robbie (3: done 09:48).
    assert hhmm(by_device["rosie"].done_at) == "09:45"
    assert (hhmm(by_device["robbie"].departs_at), hhmm(by_device["robbie"].done_at)) == (
        "09:45",
        "09:48",
    )
    assert plan.total_lateness == timedelta(minutes=3)
    naive = assign_first_free([robbie, rosie], [assistant("ann", location=S12)], WALK, now=EARLY)
    assert naive.total_lateness == timedelta(minutes=7)


def test_a_move_nobody_is_on_duty_for_is_flagged():
    evening = move(S12, S14, "17:00", "17:30")
    plan = assign([evening], [assistant("ann")], WALK, now=EARLY)
    assert (plan.assignments[0].assistant_id, plan.assignments[0].reason) == (
        None,
        NO_ASSISTANT_ON_DUTY,
    )
    nobody = assign([evening], [], WALK, now=EARLY)
    assert nobody.assignments[0].reason == NO_ASSISTANT_ON_DUTY


def test_nothing_is_planned_in_the_past():
    carry = move(S12, S14, "09:40", "09:45")
    plan = assign([carry], [assistant("ann", location=S12)], WALK, now=at("10:00"))
    assert plan.assignments[0].reason == TOO_LATE


def test_a_move_that_would_be_too_late_after_the_one_before_is_flagged():
    first = move(S12, S14, "09:40", "09:45", device_id="robbie")
    second = move(GYM, LAB3, "09:40", "09:45", device_id="rosie")
    plan = assign([first, second], [assistant("ann", location=S12)], WALK, now=EARLY)
    # Either order leaves the other more than 10 minutes late; Robbie's is on time.
    assert plan.of(first.id).assistant_id == "ann"
    assert plan.of(first.id).late_by == timedelta()
    assert plan.of(second.id).reason == NOBODY_FREE


def test_load_is_spread_fairly():
    moves = [move(S12, S14, f"{h:02}:00", f"{h:02}:30") for h in (9, 10, 11, 13)]
    plan = assign(
        moves, [assistant("ann", location=S12), assistant("bob", location=S12)], WALK, now=EARLY
    )
    assert plan.loads() == {"ann": 2, "bob": 2}
    assert plan.spread == 0
    greedy = assign_first_free(moves, [assistant("ann"), assistant("bob")], WALK, now=EARLY)
    assert greedy.spread == 4


def test_replan_after_a_booking_change_keeps_the_other_robot_s_moves():
    day = [
        lesson("r1", S12, "08:50", device_id="rosie"),
        lesson("r2", LAB3, "09:45", device_id="rosie"),
    ]
    before_lessons = [lesson("b1", S14, "08:50"), lesson("b2", GYM, "11:00")]
    rosie = derive_moves(robot("rosie"), day)
    people = [assistant("ann", location=S12), assistant("bob", location=GYM)]
    first = assign([*rosie, *derive_moves(robot(), before_lessons)], people, WALK, now=EARLY)
    changed = derive_moves(robot(), [before_lessons[0], lesson("b2", S12, "11:00")])
    second = replan(first, [*rosie, *changed], people, WALK, now=EARLY)
    for move_of_rosie in rosie:
        assert second.of(move_of_rosie.id).assistant_id == first.of(move_of_rosie.id).assistant_id
    pairs = changed_assignments(first, second)
    touched = {a.move.device_id for pair in pairs for a in pair if a is not None}
    assert touched == {"robbie"}
    assert {a.move.id for a in second.assignments} == {m.id for m in [*rosie, *changed]}


def test_replan_moves_the_work_of_an_assistant_who_went_off_sick():
    moves = [move(S12, S14, f"{h:02}:00", f"{h:02}:30") for h in (9, 10, 11, 13)]
    people = [assistant("ann", location=S12), assistant("bob", location=S12)]
    first = assign(moves, people, WALK, now=EARLY)
    sick = [people[0], assistant("bob", absent=True)]
    second = replan(first, moves, sick, WALK, now=EARLY)
    assert {a.assistant_id for a in second.assignments} == {"ann"}
    kept = [a for a in first.assignments if a.assistant_id == "ann"]
    assert all(second.of(a.move.id).departs_at == a.departs_at for a in kept)
    assert {now.move.id for was, now in changed_assignments(first, second) if now} == {
        a.move.id for a in first.assignments if a.assistant_id == "bob"
    }


def test_a_plan_answers_for_its_moves_only():
    plan = assign([], [assistant("ann")], WALK, now=EARLY)
    with pytest.raises(KeyError):
        plan.of("mv-nothing")
    assert (plan.spread, plan.late_count, plan.unassigned) == (0, 0, [])


def test_duty_windows_are_checked():
    with pytest.raises(RotaError, match="ends before"):
        DutyWindow(at("10:00"), at("09:00"))
    with pytest.raises(RotaError, match="breaks"):
        DutyWindow(at("08:00"), at("12:00"), ((at("11:30"), at("12:30")),))
    window = DutyWindow(at("08:00"), at("12:00"), ((at("10:00"), at("10:15")),))
    assert [(hhmm(a), hhmm(b)) for a, b in window.segments()] == [
        ("08:00", "10:00"),
        ("10:15", "12:00"),
    ]
    with pytest.raises(RotaError, match="overlap"):
        Assistant("ann", (window, DutyWindow(at("11:00"), at("13:00"))))
    with pytest.raises(RotaError, match="cap"):
        Assistant("ann", (window,), max_moves=-1)
