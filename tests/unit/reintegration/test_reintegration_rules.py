"""The phase rules, review dates, the no-contact rule and rating moves, without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from scheduler import BookedLesson, DeviceDay, RoomRef, derive_moves
from telepresence.platform.errors import Conflict, InvalidInput
from telepresence.reintegration.domain import (
    Outcome,
    Phase,
    Rating,
    SchoolDays,
    bookings_in_school,
    check_phase_change,
    contact_overdue,
    in_school,
    rating_moves,
    review_dues,
    weekdays_in_school,
)

MON_TUE = SchoolDays(frozenset({0, 1}))


@pytest.mark.parametrize(
    ("current", "target", "extra"),
    [
        (Phase.REMOTE_ONLY, Phase.PHASED_RETURN, {"school_days": MON_TUE}),
        (Phase.PHASED_RETURN, Phase.BACK_IN_SCHOOL, {}),
        (Phase.BACK_IN_SCHOOL, Phase.AFTER_CARE, {}),
        (Phase.AFTER_CARE, Phase.CLOSED, {"outcome": Outcome.RETURNED_SUSTAINED}),
    ],
)
def test_one_step_forward_needs_no_reason(current, target, extra):
    change = check_phase_change(current, target, **extra)
    assert (change.from_phase, change.to_phase, change.irregular) == (current, target, False)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Phase.REMOTE_ONLY, Phase.BACK_IN_SCHOOL),  # skips the phased return
        (Phase.PHASED_RETURN, Phase.AFTER_CARE),  # skips back in school
        (Phase.BACK_IN_SCHOOL, Phase.REMOTE_ONLY),  # goes back (relapse)
        (Phase.PHASED_RETURN, Phase.REMOTE_ONLY),
    ],
)
def test_a_skip_or_a_step_back_needs_a_reason(current, target):
    with pytest.raises(InvalidInput) as refused:
        check_phase_change(current, target)
    assert refused.value.errors[0]["field"] == "reason"
    change = check_phase_change(current, target, reason="Readmitted to the ward")
    assert change.irregular
    assert change.reason == "Readmitted to the ward"


def test_a_blank_reason_is_no_reason():
    with pytest.raises(InvalidInput):
        check_phase_change(Phase.BACK_IN_SCHOOL, Phase.REMOTE_ONLY, reason="   ")


def test_closing_needs_an_outcome_and_only_closing_takes_one():
    with pytest.raises(InvalidInput):
        check_phase_change(Phase.AFTER_CARE, Phase.CLOSED)
    with pytest.raises(InvalidInput):
        check_phase_change(Phase.PHASED_RETURN, Phase.BACK_IN_SCHOOL, outcome=Outcome.MOVED_SETTING)
    closed = check_phase_change(
        Phase.REMOTE_ONLY, Phase.CLOSED, reason="Moved away", outcome=Outcome.MOVED_SETTING
    )
    assert closed.outcome is Outcome.MOVED_SETTING
    assert closed.irregular


def test_a_phased_return_needs_days_or_lessons_in_school():
    with pytest.raises(InvalidInput):
        check_phase_change(Phase.REMOTE_ONLY, Phase.PHASED_RETURN, school_days=SchoolDays())
    lessons = SchoolDays(lessons=frozenset({"A-mon-1"}))
    assert check_phase_change(Phase.REMOTE_ONLY, Phase.PHASED_RETURN, school_days=lessons)


def test_a_closed_plan_and_the_same_phase_are_conflicts():
    with pytest.raises(Conflict):
        check_phase_change(Phase.CLOSED, Phase.REMOTE_ONLY, reason="again")
    with pytest.raises(Conflict):
        check_phase_change(Phase.AFTER_CARE, Phase.AFTER_CARE)


def test_weekdays_must_be_weekdays():
    with pytest.raises(InvalidInput):
        SchoolDays(frozenset({7}))


MONDAY = date(2027, 1, 11)


def test_in_school_by_phase_day_and_lesson():
    days = SchoolDays(frozenset({0}), frozenset({"A-wed-3"}))
    wednesday = MONDAY + timedelta(days=2)
    assert not in_school(Phase.REMOTE_ONLY, days, MONDAY, "A-mon-1")
    assert in_school(Phase.PHASED_RETURN, days, MONDAY, "A-mon-1")
    assert in_school(Phase.PHASED_RETURN, days, wednesday, "A-wed-3")
    assert not in_school(Phase.PHASED_RETURN, days, wednesday, "A-wed-4")
    assert not in_school(Phase.PHASED_RETURN, days, wednesday)
    assert in_school(Phase.BACK_IN_SCHOOL, SchoolDays(), wednesday, "x")
    assert in_school(Phase.AFTER_CARE, SchoolDays(), wednesday, "x")
    assert not in_school(Phase.CLOSED, days, MONDAY, "A-mon-1")


def test_review_due_soon_and_overdue():
    planned = [date(2027, 2, 1), date(2027, 3, 1)]
    assert review_dues(planned, [], date(2027, 1, 25), remind_days=3) == []
    (soon,) = review_dues(planned, [], date(2027, 1, 29), remind_days=3)
    assert soon.on == date(2027, 2, 1)
    assert not soon.overdue
    (late,) = review_dues(planned, [], date(2027, 2, 2), remind_days=3)
    assert late.overdue


def test_one_late_review_meets_one_date_only():
    planned = [date(2027, 2, 1), date(2027, 3, 1)]
    held = [date(2027, 2, 10)]  # the February review, held late
    dues = review_dues(planned, held, date(2027, 3, 2), remind_days=3)
    assert [(d.on, d.overdue) for d in dues] == [(date(2027, 3, 1), True)]
    assert review_dues(planned, [*held, date(2027, 2, 27)], date(2027, 3, 2), remind_days=3) == []


def test_two_early_reviews_do_not_meet_the_next_date():
    planned = [date(2027, 2, 1), date(2027, 3, 1)]
    held = [date(2027, 1, 20), date(2027, 1, 30)]
    dues = review_dues(planned, held, date(2027, 3, 2), remind_days=0)
    assert [d.on for d in dues] == [date(2027, 3, 1)]


def test_no_contact_counts_from_the_last_contact_or_the_start():
    start = date(2027, 1, 4)
    assert not contact_overdue(None, start, start + timedelta(days=20), days=21)
    assert contact_overdue(None, start, start + timedelta(days=21), days=21)
    last = start + timedelta(days=15)
    assert not contact_overdue(last, start, start + timedelta(days=30), days=21)
    assert contact_overdue(last, start, last + timedelta(days=21), days=21)


def test_rating_moves():
    moves = rating_moves(
        ["a", "b", "c", "d", "e"],
        {"a": Rating.NOT_YET, "b": Rating.YES, "c": Rating.PARTLY, "e": Rating.YES},
        {"a": Rating.PARTLY, "b": Rating.PARTLY, "c": Rating.PARTLY, "d": Rating.YES},
    )
    assert [m.direction for m in moves] == ["up", "down", "same", "new", "unrated"]


def _booking(bid: str, day: date, key: str) -> tuple[str, date, str]:
    return (bid, day, key)


def test_a_phased_return_releases_the_bookings_in_school():
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    bookings = [
        _booking("mon-maths", MONDAY, "A-mon-1"),
        _booking("tue-art", tuesday, "A-tue-2"),
        _booking("wed-drama", wednesday, "A-wed-3"),
        _booking("wed-maths", wednesday, "A-wed-4"),
    ]
    days = SchoolDays(frozenset({0}), frozenset({"A-wed-3"}))
    assert bookings_in_school(Phase.PHASED_RETURN, days, bookings) == ["mon-maths", "wed-drama"]
    assert bookings_in_school(Phase.REMOTE_ONLY, days, bookings) == []
    assert len(bookings_in_school(Phase.BACK_IN_SCHOOL, SchoolDays(), bookings)) == 4
    assert weekdays_in_school(Phase.PHASED_RETURN, days) == frozenset({0})
    assert weekdays_in_school(Phase.AFTER_CARE, days) == frozenset(range(7))
    assert weekdays_in_school(Phase.CLOSED, days) == frozenset()


def test_the_rota_no_longer_moves_the_robot_on_a_day_in_school():
    base, lab, s12 = RoomRef("base"), RoomRef("lab"), RoomRef("s12")
    monday = datetime(2027, 1, 11, 9, tzinfo=UTC)
    lessons = {
        "mon-maths": BookedLesson("mon-maths", "robbie", s12, monday, monday + timedelta(hours=1)),
        "mon-art": BookedLesson(
            "mon-art", "robbie", lab, monday + timedelta(hours=2), monday + timedelta(hours=3)
        ),
    }
    day = DeviceDay(device_id="robbie", charging_base=base)
    assert len(derive_moves(day, list(lessons.values()))) == 3  # base → S12 → Lab → base
    slots = [(bid, monday.date(), f"A-mon-{n}") for n, bid in enumerate(lessons)]
    released = bookings_in_school(Phase.PHASED_RETURN, SchoolDays(frozenset({0})), slots)
    remaining = [lesson for bid, lesson in lessons.items() if bid not in released]
    assert derive_moves(day, remaining) == []
