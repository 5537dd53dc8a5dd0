"""Learning a robot's battery drain in lessons from its telemetry: hand-checked cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.rota.domain.drain import HIGHEST, LOWEST, Reading, learned_drain

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def lesson_readings(start: datetime, minutes: int, pct: float, per_hour: float) -> list[Reading]:
    """A reading a minute through a lesson, off charge, losing ``per_hour`` % an hour."""
    return [
        Reading(start + timedelta(minutes=m), pct - per_hour * m / 60, charging=False)
        for m in range(minutes + 1)
    ]


def days_of_lessons(
    per_hour: float, days: int = 3
) -> tuple[list[Reading], list[tuple[datetime, datetime]]]:
    readings, lessons = [], []
    for d in range(days):
        start = T0 + timedelta(days=d)
        readings += lesson_readings(start, 50, 90.0, per_hour)
        lessons.append((start, start + timedelta(minutes=50)))
    return readings, lessons


def test_the_rate_is_what_it_lost_in_lessons_over_the_time():
    readings, lessons = days_of_lessons(24.0)
    drain = learned_drain(readings, lessons)
    assert drain is not None
    assert drain.pct_per_hour == pytest.approx(24.0)
    assert drain.hours == pytest.approx(2.5)


def test_too_little_evidence_learns_nothing():
    readings, lessons = days_of_lessons(24.0, days=2)  # 100 minutes of lessons
    assert learned_drain(readings, lessons) is None


def test_readings_outside_lessons_on_charge_rising_or_far_apart_do_not_count():
    readings, lessons = days_of_lessons(20.0)
    evening = T0 + timedelta(hours=8)  # carried about after school: not a lesson
    readings += lesson_readings(evening, 120, 80.0, 60.0)
    lunch = T0 + timedelta(hours=3)
    lessons.append((lunch, lunch + timedelta(hours=1)))
    readings += [  # on charge during this lesson, then unplugged after a battery swap
        Reading(lunch, 40.0, charging=True),
        Reading(lunch + timedelta(minutes=1), 41.0, charging=True),
        Reading(lunch + timedelta(minutes=2), 41.0, charging=None),
        Reading(lunch + timedelta(minutes=3), 95.0, charging=False),
        Reading(lunch + timedelta(minutes=4), 99.0, charging=False),
        Reading(lunch + timedelta(minutes=30), 60.0, charging=False),  # 26 minutes on: a gap
    ]
    drain = learned_drain(readings, lessons)
    assert drain is not None
    assert drain.pct_per_hour == pytest.approx(20.0)
    assert drain.hours == pytest.approx(2.5)


@pytest.mark.parametrize(("per_hour", "learned"), [(1.0, LOWEST), (90.0, HIGHEST)])
def test_an_implausible_rate_is_clamped(per_hour, learned):
    readings, lessons = days_of_lessons(per_hour)
    drain = learned_drain(readings, lessons)
    assert drain is not None
    assert drain.pct_per_hour == learned
