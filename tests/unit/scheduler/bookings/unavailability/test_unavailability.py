from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from scheduler_factories import lesson, school_calendar

from scheduler.bookings.unavailability.domain import OneOffUnavailable, WeeklyUnavailable, blocking
from scheduler.timetables.occurrences import expand

LONDON = ZoneInfo("Europe/London")


def occurrence_on(day: date, start: time = time(8, 50), end: time = time(9, 40)):
    weekday = day.weekday()
    [found] = expand([lesson(weekday=weekday, start=start, end=end)], school_calendar(), day, day)
    return found


def dialysis(**overrides: object) -> WeeklyUnavailable:
    fields: dict[str, object] = {
        "id": "u1",
        "reason": "dialysis",
        "weekdays": frozenset({0, 2, 4}),
        "start": time(9, 0),
        "end": time(12, 0),
    }
    fields.update(overrides)
    return WeeklyUnavailable(**fields)  # type: ignore[arg-type]


def test_weekly_unavailability_blocks_overlapping_lessons_on_its_days_only():
    entry = dialysis()
    assert entry.blocks(occurrence_on(date(2025, 1, 6)))  # Monday 08:50-09:40
    assert not entry.blocks(occurrence_on(date(2025, 1, 7)))  # Tuesday
    assert not entry.blocks(occurrence_on(date(2025, 1, 6), time(8, 0), time(9, 0)))  # touches


def test_weekly_unavailability_keeps_local_time_across_the_clock_change():
    entry = dialysis(weekdays=frozenset({0}), start=time(8, 0), end=time(8, 55))
    before, after = occurrence_on(date(2025, 3, 24)), occurrence_on(date(2025, 3, 31))
    assert before.start.hour != after.start.hour  # UTC moved by an hour
    assert entry.blocks(before)
    assert entry.blocks(after)


def test_weekly_unavailability_respects_its_validity():
    entry = dialysis(valid_from=date(2025, 1, 8), valid_to=date(2025, 1, 31))
    assert not entry.blocks(occurrence_on(date(2025, 1, 6)))
    assert entry.blocks(occurrence_on(date(2025, 1, 13)))
    assert not entry.blocks(occurrence_on(date(2025, 2, 3)))


def test_one_off_unavailability_compares_instants():
    appointment = OneOffUnavailable(
        "u2",
        "scan",
        datetime(2025, 3, 31, 7, 30, tzinfo=UTC),
        datetime(2025, 3, 31, 8, 0, tzinfo=UTC),
    )
    assert appointment.blocks(occurrence_on(date(2025, 3, 31)))  # 08:50 BST is 07:50 UTC
    assert not appointment.blocks(occurrence_on(date(2025, 3, 24)))
    assert appointment.describe(LONDON) == "scan (Mon 31 Mar 08:30-09:00)"


def test_descriptions_and_blocking_order():
    weekly = dialysis()
    assert weekly.describe(LONDON) == "dialysis (Mon, Wed, Fri 09:00-12:00)"
    other = dialysis(id="u3", reason="physio", weekdays=frozenset({1}))
    assert blocking([other, weekly], occurrence_on(date(2025, 1, 6))) == [weekly]


@pytest.mark.parametrize(
    "overrides",
    [
        {"weekdays": frozenset()},
        {"weekdays": frozenset({7})},
        {"start": time(12, 0), "end": time(9, 0)},
        {"valid_from": date(2025, 2, 1), "valid_to": date(2025, 1, 1)},
    ],
)
def test_impossible_weekly_entries_are_refused(overrides):
    with pytest.raises(ValueError, match=r"."):
        dialysis(**overrides)


def test_impossible_one_off_entries_are_refused():
    start = datetime(2025, 1, 6, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="start before"):
        OneOffUnavailable("u", "x", start, start)
    with pytest.raises(ValueError, match="aware"):
        OneOffUnavailable("u", "x", start.replace(tzinfo=None), start)
