"""A robot's own battery drain, learned from its telemetry in past lessons, drives the battery
rule: a robot that uses little battery is not sent to charge (compare ``WITH_TRIP`` at the
default rate in test_rota_battery_replans). On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from integration.rota_helpers import add_lesson
from integration.test_rota_battery_replans import WITHOUT_TRIP, _read, _robot_day, _rows, _shape
from sqlalchemy import select

from device_registry.models import TelemetrySample
from scheduler.bookings.models import Booking
from scheduler.rota.battery import learn_drain_rates
from scheduler.rota.loading import DRAIN_PCT_PER_HOUR, load_day
from scheduler.rota.models import RotaDrainRow
from telepresence.platform.http.context import CLOCK, DATABASE, JOBS
from telepresence.platform.models import School


async def _past_lessons_using(client, org, robot_id: str, day, per_hour: float) -> None:
    """Three earlier days with a 09:00-10:00 lesson, a reading a minute, off charge in lessons
    and on charge (rising) between them."""
    database = client.app[DATABASE]
    for back in (1, 2, 3):
        past = day - timedelta(days=back)
        booking_id = await add_lesson(database, org, robot_id, past, "09:00", "10:00", "Lab 3")
        async with database.transaction() as db:
            booking = await db.get(Booking, booking_id)
            assert booking is not None
            start = booking.starts_at
            for minute in range(-30, 91):
                in_lesson = 0 <= minute <= 60
                pct = 95 - per_hour * max(0, min(minute, 60)) / 60
                db.add(
                    TelemetrySample(
                        device_id=robot_id,
                        at=start + timedelta(minutes=minute),
                        battery_pct=round(pct if in_lesson or minute < 0 else pct + minute - 60),
                        charging=not in_lesson,
                    )
                )


async def _rate_in_plan(client, org, robot_id: str, day) -> float | None:
    async with client.app[DATABASE].sessions() as db:
        school = await db.get(School, org.school_id)
        assert school is not None
        inputs = await load_day(db, school, day)
    inputs.now = client.app[CLOCK].now()
    return inputs.device_day(robot_id).drain_pct_per_hour


async def test_a_robot_that_uses_little_battery_is_not_sent_to_charge(client, org, login, clock):
    robot_id, day, admin = await _robot_day(client, org, login, clock)
    await _read(client, robot_id, 35)
    assert await _rate_in_plan(client, org, robot_id, day) == DRAIN_PCT_PER_HOUR
    await _past_lessons_using(client, org, robot_id, day, per_hour=6.0)

    assert await learn_drain_rates(client.app[JOBS].context) == 1
    async with client.app[DATABASE].sessions() as db:
        [row] = list(await db.scalars(select(RotaDrainRow)))
    # Integer readings: 6 % an hour shows as whole-percent steps; 3 hours of lessons.
    assert (row.device_id, row.hours) == (robot_id, pytest.approx(3.0))
    assert row.pct_per_hour == pytest.approx(6.0, abs=0.4)
    assert await _rate_in_plan(client, org, robot_id, day) == row.pct_per_hour

    # 35 % at 08:00 lasts two lessons at 6 % an hour: no charge trip in the gap.
    url = f"/api/schools/{org.school_id}/rota?date={day.isoformat()}"
    assert (await client.get(url, headers=admin)).status == 200
    assert _shape(await _rows(client, day)) == WITHOUT_TRIP


async def test_too_few_lesson_readings_leave_the_default(client, org, login, clock):
    robot_id, day, _admin = await _robot_day(client, org, login, clock)
    await _read(client, robot_id, 35)
    assert await learn_drain_rates(client.app[JOBS].context) == 0
    assert await _rate_in_plan(client, org, robot_id, day) == DRAIN_PCT_PER_HOUR
