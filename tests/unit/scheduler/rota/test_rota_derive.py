"""Deriving a robot's moves from its booked lessons, and the walking rule, on hand-checked days."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from rota_factories import BASE, GYM, LAB3, S12, S14, at, lesson, robot

from scheduler.rota.domain.moves import DerivationRules, Move, RotaError, derive, derive_moves
from scheduler.rota.domain.walking import RoomRef, WalkingRules, room_pair


def summary(moves):
    return [
        (m.reason, m.from_room.id, m.to_room.id, f"{m.earliest:%H:%M}", f"{m.latest:%H:%M}")
        for m in moves
    ]


def test_a_day_from_the_base_through_three_rooms_and_back():
    lessons = [
        lesson("b3", GYM, "11:00"),
        lesson("b1", S12, "08:50"),
        lesson("b2", LAB3, "09:45"),
    ]
    assert summary(derive_moves(robot(), lessons)) == [
        ("from_base", "base", "s12", "07:50", "08:50"),
        ("to_lesson", "s12", "lab3", "09:40", "09:45"),
        ("to_lesson", "lab3", "gym", "10:35", "11:00"),
        ("to_base", "gym", "base", "11:50", "12:20"),
    ]


def test_no_move_where_the_robot_already_is():
    lessons = [lesson("b1", S12, "08:50"), lesson("b2", S12, "09:45"), lesson("b3", BASE, "11:00")]
    moves = derive_moves(robot(last_known=S12), lessons)
    # Left in S12 overnight, a double lesson there, the last lesson in its base room.
    assert summary(moves) == [("to_lesson", "s12", "base", "10:35", "11:00")]


def test_a_robot_left_elsewhere_is_fetched_from_there_not_from_its_base():
    moves = derive_moves(robot(last_known=S14), [lesson("b1", S12, "08:50")])
    assert summary(moves)[0] == ("to_lesson", "s14", "s12", "07:50", "08:50")


def test_a_tablet_on_a_stand_without_a_base_only_moves_between_lessons():
    lessons = [
        lesson("b1", S12, "08:50", device_id="tab"),
        lesson("b2", GYM, "09:45", device_id="tab"),
    ]
    moves = derive_moves(robot("tab", base=None, last_known=S12), lessons)
    assert summary(moves) == [("to_lesson", "s12", "gym", "09:40", "09:45")]


def test_no_lessons_no_moves():
    assert derive(robot(), []).moves == ()


def test_move_ids_are_stable_and_follow_the_content():
    lessons = [lesson("b1", S12, "08:50"), lesson("b2", LAB3, "09:45")]
    first = derive_moves(robot(), lessons)
    again = derive_moves(robot(), list(reversed(lessons)))
    assert [m.id for m in first] == [m.id for m in again]
    assert len({m.id for m in first}) == len(first)
    moved = derive_moves(robot(), [lessons[0], lesson("b2", GYM, "09:45")])
    assert moved[0].id == first[0].id
    assert moved[1].id != first[1].id


def test_a_move_id_is_the_hash_the_services_have_stored():
    # Ids are persisted: how a move is built may change, its id may not.
    when = datetime(2026, 3, 2, 9, 40, tzinfo=UTC)
    due = datetime(2026, 3, 2, 10, 45, tzinfo=timezone(timedelta(hours=1)))
    s12, lab3 = RoomRef("s12", "A", 1), RoomRef("lab3", "B", 0)
    move = Move("robot-7", "to_lesson", s12, lab3, when, due, "b2")
    assert move.id == "mv-92ce6f7f24288a3e"
    twin = Move(
        device_id="robot-7",
        reason="to_lesson",
        from_room=s12,
        to_room=lab3,
        earliest=when,
        latest=due,
        booking_id="b2",
    )
    assert twin == move
    assert hash(twin) == hash(move)
    assert repr(move).startswith("Move(device_id='robot-7', reason='to_lesson', from_room=")
    assert "mv-" not in repr(move)
    assert replace(move, booking_id="b3").id == move.id
    assert replace(move, to_room=s12).id != move.id


def test_a_low_battery_gets_a_charge_trip_in_a_long_enough_gap():
    # 50%, 30%/h: each 50-minute lesson uses 25%, so the third would end at 0%.
    lessons = [lesson("b1", S12, "08:50"), lesson("b2", LAB3, "09:45"), lesson("b3", GYM, "13:40")]
    result = derive(robot(battery=75, drain=30), lessons)
    assert summary(result.moves) == [
        ("from_base", "base", "s12", "07:50", "08:50"),
        ("to_lesson", "s12", "lab3", "09:40", "09:45"),
        ("charge", "lab3", "base", "10:35", "10:50"),
        ("from_base", "base", "gym", "13:25", "13:40"),
        ("to_base", "gym", "base", "14:30", "15:00"),
    ]
    assert result.warnings == ()


def test_a_low_battery_without_a_long_enough_gap_is_flagged():
    lessons = [lesson("b1", S12, "08:50"), lesson("b2", LAB3, "09:45"), lesson("b3", GYM, "10:40")]
    result = derive(robot(battery=75, drain=30), lessons)
    assert [m.reason for m in result.moves] == ["from_base", "to_lesson", "to_lesson", "to_base"]
    assert [(w.booking_id, round(w.projected_pct, 1)) for w in result.warnings] == [("b3", 0.0)]


def test_the_battery_rule_is_off_without_a_drain_rate():
    lessons = [lesson("b1", S12, "08:50"), lesson("b2", LAB3, "13:40")]
    result = derive(robot(battery=5), lessons)
    assert "charge" not in [m.reason for m in result.moves]
    assert result.warnings == ()


def test_a_charge_needs_the_minimum_time_on_the_base():
    rules = DerivationRules(min_charge=timedelta(hours=4))
    lessons = [lesson("b1", S12, "08:50"), lesson("b2", LAB3, "13:40", minutes=120)]
    result = derive(robot(battery=60, drain=30), lessons, rules)
    assert "charge" not in [m.reason for m in result.moves]
    assert [w.booking_id for w in result.warnings] == ["b2"]


def test_overlapping_lessons_and_another_devices_lesson_are_refused():
    with pytest.raises(RotaError, match="overlap"):
        derive(robot(), [lesson("b1", S12, "08:50"), lesson("b2", LAB3, "09:30")])
    with pytest.raises(RotaError, match="not for device"):
        derive(robot(), [lesson("b1", S12, "08:50", device_id="other")])


def test_a_lesson_must_end_after_it_starts_and_be_aware():
    with pytest.raises(RotaError):
        lesson("b1", S12, "08:50", minutes=0)
    with pytest.raises(RotaError):
        type(lesson("b1", S12, "08:50"))(
            "b", "d", S12, at("09:00").replace(tzinfo=None), at("10:00")
        )


def test_walking_times_follow_the_rule_and_its_overrides():
    rules = WalkingRules(overrides={room_pair("s12", "gym"): timedelta(minutes=3)})
    assert rules.between(S12, S12) == timedelta()
    assert rules.between(S12, S14) == timedelta(minutes=2)
    assert rules.between(S12, LAB3) == timedelta(minutes=4)
    assert rules.between(S14, GYM) == timedelta(minutes=8)
    assert rules.between(GYM, S12) == rules.between(S12, GYM) == timedelta(minutes=3)
    assert rules.seconds(S14, GYM) == 480


def test_walking_rules_refuse_negative_times_and_self_pairs():
    with pytest.raises(ValueError, match="negative"):
        WalkingRules(same_floor=timedelta(minutes=-1))
    with pytest.raises(ValueError, match="two different rooms"):
        WalkingRules(overrides={room_pair("a", "a"): timedelta(minutes=1)})
    assert RoomRef("x").building == ""
