"""The demo's school year and timetables are realistic and import through the real importer."""

from __future__ import annotations

from datetime import date

import pytest

from scheduler.timetables.imports import import_csv
from telepresence.demo_timetables import demo_calendar, demo_timetable_csv


@pytest.mark.parametrize("today", [date(2026, 11, 25), date(2027, 3, 1), date(2025, 8, 20)])
def test_the_demo_year_has_three_terms_with_closures_inside_them(today: date):
    calendar = demo_calendar(today)
    autumn, spring, summer = calendar.terms
    assert autumn.start.month == 9
    assert autumn.start.weekday() < 5
    assert autumn.end < spring.start < spring.end < summer.start < summer.end
    assert summer.end.month == 7
    for closure in calendar.closures:
        assert any(closure.start in term and closure.end in term for term in calendar.terms)
    assert calendar.week_of(autumn.start) == "A"
    assert calendar.period("P6") is not None


def test_easter_falls_in_the_spring_break():
    calendar = demo_calendar(date(2026, 11, 25))
    assert not calendar.is_school_day(date(2027, 3, 29))  # Easter Monday 2027
    assert calendar.is_school_day(date(2027, 3, 24))


@pytest.mark.parametrize("index", range(6))
def test_each_demo_timetable_has_25_lessons_a_week(index: int):
    calendar = demo_calendar(date(2026, 11, 25))
    result = import_csv(demo_timetable_csv(index, index // 3, "Year 9"), calendar=calendar)
    for week in ("A", "B"):
        assert sum(1 for lsn in result.lessons if lsn.week in (None, week)) == 25
    assert {lsn.room for lsn in result.lessons} <= {"M4", "E7", "Lab 3", "S12", "Library"} | {
        "Maths 1",
        "H2",
        "H5",
        "IT Suite",
    }
