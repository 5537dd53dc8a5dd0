"""The battery rule projected from a live reading: only what is still ahead counts, and
charge trips once planned stay put while the readings drift (hand-checked days).

Every day here: 30 %/h drain, so a 50-minute lesson uses 25 %; floor 20 %.
"""

from dataclasses import replace

from rota_factories import GYM, LAB3, S12, at, lesson, robot

from scheduler.rota.domain.moves import derive

LESSONS = [lesson("b1", S12, "08:50"), lesson("b2", LAB3, "09:45"), lesson("b3", GYM, "13:40")]
PLAIN = [
    ("from_base", "base", "s12", "07:50", "08:50"),
    ("to_lesson", "s12", "lab3", "09:40", "09:45"),
    ("to_lesson", "lab3", "gym", "10:35", "13:40"),
    ("to_base", "gym", "base", "14:30", "15:00"),
]
WITH_TRIP = [
    ("from_base", "base", "s12", "07:50", "08:50"),
    ("to_lesson", "s12", "lab3", "09:40", "09:45"),
    ("charge", "lab3", "base", "10:35", "10:50"),
    ("from_base", "base", "gym", "13:25", "13:40"),
    ("to_base", "gym", "base", "14:30", "15:00"),
]


def reading(pct, hhmm, *, charge_after=(), charging=False):
    day = robot(battery=pct, drain=30)
    return replace(
        day, battery_at=at(hhmm), charge_after=frozenset(charge_after), charging=charging
    )


def summary(moves):
    return [
        (m.reason, m.from_room.id, m.to_room.id, f"{m.earliest:%H:%M}", f"{m.latest:%H:%M}")
        for m in moves
    ]


def test_the_projection_starts_at_the_reading_not_at_the_start_of_the_day():
    # 45 % at 10:00, in b2: b1 is over (uses nothing), b2's last 35 minutes use 17.5 %,
    # b3 would end at 2.5 %: a trip in the long gap before it.
    result = derive(reading(45, "10:00"), LESSONS)
    assert summary(result.moves) == WITH_TRIP
    assert result.warnings == ()
    # The same 45 % read as the day's start would have drained b1 and b2 too.
    from_dawn = derive(robot(battery=45, drain=30), LESSONS)
    assert [w.booking_id for w in from_dawn.warnings] == ["b2"]


def test_no_new_trip_in_a_gap_that_has_already_begun():
    # 30 % at 11:00, after b2: b3 would end at 5 %; the gap started at 10:35 and the
    # robot may be anywhere by now, so staff are warned instead.
    result = derive(reading(30, "11:00"), LESSONS)
    assert summary(result.moves) == PLAIN
    assert [(w.booking_id, w.projected_pct) for w in result.warnings] == [("b3", 5.0)]


def test_lessons_over_by_the_reading_raise_no_warnings():
    result = derive(reading(10, "15:00"), LESSONS)
    assert result.warnings == ()
    assert summary(result.moves) == PLAIN


def test_a_planned_trip_stays_while_the_battery_is_marginal_and_goes_when_it_clearly_lasts():
    # 70 % at 10:00: b3 would end at 27.5 %: above the floor, so no new trip ...
    assert summary(derive(reading(70, "10:00"), LESSONS).moves) == PLAIN
    # ... but within the 10-point margin, so a trip already planned is kept;
    kept = derive(reading(70, "10:00", charge_after={"b2"}), LESSONS)
    assert summary(kept.moves) == WITH_TRIP
    # at 80 % b3 ends at 37.5 %: the planned trip is no longer needed.
    dropped = derive(reading(80, "10:00", charge_after={"b2"}), LESSONS)
    assert summary(dropped.moves) == PLAIN


def test_a_planned_trip_whose_gap_has_begun_is_kept_whatever_the_battery():
    # The robot went to charge at 10:35 and reads 95 % at 11:00: the trip is under way.
    result = derive(reading(95, "11:00", charge_after={"b2"}), LESSONS)
    assert summary(result.moves) == WITH_TRIP
    assert result.warnings == ()


def test_a_planned_trip_is_kept_when_there_is_no_reading():
    result = derive(replace(robot(), charge_after=frozenset({"b2"})), LESSONS)
    assert summary(result.moves) == WITH_TRIP


def test_trip_ids_do_not_depend_on_the_battery_figures():
    ids = {
        tuple(m.id for m in derive(day, LESSONS).moves)
        for day in (
            reading(45, "10:00"),
            reading(40, "10:10"),
            reading(70, "10:00", charge_after={"b2"}),
            reading(95, "11:00", charge_after={"b2"}),
        )
    }
    assert len(ids) == 1


def test_a_robot_on_charge_before_school_gains_until_it_is_fetched():
    # 40 % at 06:00 on its base, fetched from 07:50: +110 %, so full; the day needs 75 %.
    charging = derive(reading(40, "06:00", charging=True), LESSONS)
    assert summary(charging.moves) == PLAIN
    assert charging.warnings == ()
    # Off charge it would run flat in b1 and b2, and need the trip before b3.
    idle = derive(reading(40, "06:00"), LESSONS)
    assert [w.booking_id for w in idle.warnings] == ["b1", "b2"]
    assert summary(idle.moves) == WITH_TRIP
