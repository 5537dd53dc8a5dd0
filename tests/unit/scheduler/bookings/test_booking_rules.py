"""The booking rules on plain values: no database, every reason reported at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from scheduler_factories import lesson, school_calendar

from scheduler.bookings.rules import (
    Clash,
    DeviceFacts,
    Overlap,
    PupilFacts,
    clashes_of,
    find_occurrence,
)
from scheduler.bookings.unavailability.domain import OneOffUnavailable
from scheduler.timetables.occurrences import Occurrence
from telepresence.platform.errors import InvalidInput

MONDAY = date(2025, 1, 13)  # week B of spring 2025: the factory lesson runs every week
EARLY = datetime(2025, 1, 1, tzinfo=UTC)
ROBOT = DeviceFacts("r1", "classroom_device_id", "robot", "Robbie", "active", "school-1")
TABLET = DeviceFacts("t1", "pupil_device_id", "tablet", "Tab", "active", None)


def pupil(*unavailable: OneOffUnavailable) -> PupilFacts:
    return PupilFacts("Amira K.", "school-1", school_calendar(), unavailable)


def maths_on(day: date) -> Occurrence:
    found = find_occurrence(school_calendar(), lesson(), day)
    assert isinstance(found, Occurrence)
    return found


def test_a_free_occurrence_has_no_clash():
    occ = maths_on(MONDAY)
    assert clashes_of(pupil(), lesson(), occ, [ROBOT, TABLET], [], {}, EARLY) == []


def test_every_reason_is_reported_in_order_pupil_first_then_each_device():
    occ = maths_on(MONDAY)
    own = [Overlap("other", MONDAY, "Art", occ.start, occ.end)]
    unwell = OneOffUnavailable("u1", "dialysis", occ.start - timedelta(hours=1), occ.end)
    robot = DeviceFacts("r1", "classroom_device_id", "robot", "Robbie", "maintenance", "school-2")
    theirs = Overlap("k", MONDAY, "PE", occ.start, occ.end, "Ben T.")
    found = clashes_of(pupil(unwell), lesson(), occ, [robot, TABLET], own, {"t1": [theirs]}, EARLY)
    assert [c.field for c in found] == [
        "pupil",
        "unavailability",
        "classroom_device_id",
        "classroom_device_id",
        "pupil_device_id",
    ]
    assert found[0].message == "Amira K. is already booked into Art 08:50"
    assert found[2].message == "Robot Robbie is in maintenance"
    assert found[3].message == "Robot Robbie belongs to another school"
    assert found[4].message == "Tablet Tab is booked for Ben T. 08:50-09:40 (PE)"


def test_bookings_that_only_touch_or_lie_elsewhere_do_not_clash():
    occ = maths_on(MONDAY)
    before = Overlap("k", MONDAY, "Registration", occ.start - timedelta(hours=1), occ.start)
    next_day = Overlap(
        "k", MONDAY, "Art", occ.start + timedelta(days=1), occ.end + timedelta(days=1)
    )
    assert (
        clashes_of(pupil(), lesson(), occ, [ROBOT], [before, next_day], {"r1": [before]}, EARLY)
        == []
    )


def test_the_same_lesson_already_booked_says_so_and_a_started_one_is_past():
    occ = maths_on(MONDAY)
    same = Overlap(occ.lesson_key, MONDAY, "Maths", occ.start, occ.end)
    found = clashes_of(pupil(), lesson(), occ, [ROBOT], [same], {}, occ.start)
    assert [c.message for c in found] == [
        "Maths on Mon 13 Jan at 08:50 is in the past",
        "Amira K. is already booked into this lesson",
    ]


def test_a_closure_and_a_weekend_are_clashes_and_a_wrong_weekday_is_bad_input():
    half_term = find_occurrence(school_calendar(), lesson(), date(2025, 2, 17))
    assert half_term == Clash(
        "date", "the school is closed on Mon 17 Feb 2025 (February half term)"
    )
    after_term = find_occurrence(school_calendar(), lesson(), date(2025, 4, 7))
    assert after_term == Clash("date", "Mon 07 Apr 2025 is not a school day")
    with pytest.raises(InvalidInput):
        find_occurrence(school_calendar(), lesson(), date(2025, 1, 14))  # a Tuesday
