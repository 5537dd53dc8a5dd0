from datetime import date, time

import pytest
from scheduler_factories import HALF_TERM, SPRING_START, school_calendar

from scheduler.timetables.calendar import (
    BellPeriod,
    CalendarError,
    Closure,
    SchoolCalendar,
    Term,
    WeekCycle,
    is_school_day,
    week_of,
)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 1, 6), True),  # first Monday of term
        (date(2025, 1, 11), False),  # Saturday
        (date(2025, 2, 19), False),  # half term
        (date(2025, 3, 3), False),  # INSET
        (date(2025, 4, 7), False),  # Easter holiday, after term
        (date(2025, 1, 3), False),  # before term
        (date(2025, 4, 4), True),  # last day of term
    ],
)
def test_is_school_day(day: date, expected: bool) -> None:
    assert is_school_day(school_calendar(), day) is expected


def test_weeks_alternate_from_the_reference_monday() -> None:
    calendar = school_calendar()
    letters = [week_of(calendar, date(2025, 1, 6 + 7 * n)) for n in range(4)]
    assert letters == ["A", "B", "A", "B"]
    assert week_of(calendar, date(2025, 1, 12)) == "A"  # the Sunday belongs to its ISO week
    assert week_of(calendar, date(2024, 12, 30)) == "B"  # backwards too


def test_override_reanchors_the_alternation_after_a_holiday() -> None:
    # After half term the school restarts on week A although strict alternation says B.
    calendar = school_calendar(overrides={date(2025, 2, 26): "A"})
    assert week_of(calendar, date(2025, 2, 10)) == "B"
    assert week_of(calendar, date(2025, 2, 24)) == "A"
    assert week_of(calendar, date(2025, 3, 3)) == "B"
    assert week_of(calendar, date(2025, 3, 10)) == "A"
    assert calendar.week_cycle is not None
    assert dict(calendar.week_cycle.overrides) == {date(2025, 2, 24): "A"}


def test_week_of_without_a_cycle_raises() -> None:
    with pytest.raises(CalendarError, match="no A/B week cycle"):
        school_calendar(cycle=False).week_of(SPRING_START)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SchoolCalendar(timezone="Mars/Olympus_Mons"), "unknown time zone"),
        (lambda: WeekCycle(date(2025, 1, 7)), "not a Monday"),
        (lambda: WeekCycle(SPRING_START, {SPRING_START: "C"}), "must be 'A' or 'B'"),  # type: ignore[dict-item]
        (lambda: Term("x", date(2025, 2, 1), date(2025, 1, 1)), "before it starts"),
        (lambda: Closure("x", date(2025, 2, 1), date(2025, 1, 1)), "before it starts"),
        (lambda: BellPeriod("P1", time(10), time(9)), "start before it ends"),
        (lambda: SchoolCalendar(school_weekdays=frozenset({7})), "school_weekdays"),
    ],
)
def test_inconsistent_calendars_are_refused(build: object, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        build()  # type: ignore[operator]


@pytest.mark.parametrize("name", ["P1", "p1", "1", "Period 1", " period  1 "])
def test_period_lookup_accepts_common_spellings(name: str) -> None:
    period = school_calendar().period(name)
    assert period is not None
    assert (period.name, period.start) == ("P1", time(8, 50))


def test_unknown_period_is_none_and_closure_is_named() -> None:
    calendar = school_calendar()
    assert calendar.period("P9") is None
    assert calendar.closure_on(date(2025, 2, 18)) == HALF_TERM
    assert calendar.zone.key == "Europe/London"


def test_closed_spans_say_why_school_weekdays_have_no_lessons() -> None:
    from scheduler_factories import school_calendar

    calendar = school_calendar()
    assert calendar.closed_spans(date(2025, 2, 14), date(2025, 3, 4)) == [
        "February half term: Mon 17 to Fri 21 Feb",
        "INSET: Mon 3 Mar",
    ]
    assert calendar.closed_spans(date(2025, 4, 3), date(2025, 4, 9)) == [
        "School holiday: Mon 7 to Wed 9 Apr"
    ]
