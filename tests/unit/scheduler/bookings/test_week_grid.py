"""The week grid of the staff page: days across, lesson times down, closed days named."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from scheduler_factories import lesson, school_calendar

from scheduler.bookings.domain import OccurrenceView
from scheduler.bookings.unavailability.domain import OneOffUnavailable, WeeklyUnavailable
from scheduler.bookings.unavailability.pages import unavailable_from_form
from scheduler.bookings.week import week_grid
from scheduler.timetables.import_pages import pack_upload, unpack_upload
from scheduler.timetables.occurrences import expand
from telepresence.platform.errors import InvalidInput


def views(lessons, calendar, first: date, last: date) -> list[OccurrenceView[Any]]:
    return [
        OccurrenceView(occ, occ.lesson_key, next(x for x in lessons if x.key == occ.lesson_key),
                       None, (), "bookable")
        for occ in expand(lessons, calendar, first, last)
    ]  # fmt: skip


def test_rows_are_bell_periods_plus_other_times_and_cells_follow_days():
    calendar = school_calendar()
    lessons = [
        lesson(subject="Maths", weekday=0, start=time(8, 50), end=time(9, 40)),
        lesson(subject="Drama", weekday=2, start=time(15, 10), end=time(16, 0)),
    ]
    grid = week_grid(views(lessons, calendar, date(2025, 1, 6), date(2025, 1, 12)), calendar,
                     date(2025, 1, 8))  # fmt: skip
    assert grid.monday == date(2025, 1, 6)
    assert grid.week == "A"
    assert [d.day.weekday() for d in grid.days] == [0, 1, 2, 3, 4]
    assert [r.label for r in grid.rows] == ["Registration", "P1", "P2", "P3", "P4", "P5", "P6", ""]
    p1 = grid.rows[1]
    assert [len(cell) for cell in p1.cells] == [1, 0, 0, 0, 0]
    assert grid.rows[-1].start == time(15, 10)
    assert [len(cell) for cell in grid.rows[-1].cells] == [0, 0, 1, 0, 0]


def test_half_term_days_say_why_they_are_closed():
    calendar = school_calendar()
    grid = week_grid([], calendar, date(2025, 2, 19))
    assert {d.closed for d in grid.days} == {"Closed: February half term"}
    assert week_grid([], calendar, date(2025, 4, 9)).days[0].closed == "Closed: school holiday"


def test_an_upload_survives_the_round_trip_and_tampering_is_refused():
    data = b"Day,Subject\r\nMon,Maths\r\n" * 100
    assert unpack_upload(pack_upload(data)) == data
    with pytest.raises(InvalidInput):
        unpack_upload("not base64 at all!")


def test_unavailability_forms_become_domain_entries_in_the_schools_time():
    zone = school_calendar().zone
    weekly = unavailable_from_form(
        {"kind": "weekly", "reason": "dialysis", "start": "09:00", "end": "12:00"}, ["0", "2"], zone
    )
    assert isinstance(weekly, WeeklyUnavailable)
    assert weekly.weekdays == frozenset({0, 2})
    once = unavailable_from_form(
        {
            "kind": "once",
            "reason": "scan",
            "starts": "2025-06-02T10:00",
            "ends": "2025-06-02T11:00",
        },
        [],
        zone,
    )
    assert isinstance(once, OneOffUnavailable)
    assert once.starts_at == datetime(2025, 6, 2, 9, 0, tzinfo=UTC)  # BST
    with pytest.raises(InvalidInput, match="Tick at least one day"):
        unavailable_from_form({"kind": "weekly", "reason": "x", "start": "09:00", "end": "10:00"},
                              [], zone)  # fmt: skip
