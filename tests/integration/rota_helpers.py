"""Small builders for the rota's integration tests: lessons on a day, assistants on duty."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from factories import Org, add_device, add_user

from scheduler.bookings.models import Booking
from telepresence.platform.database import Database
from telepresence.platform.http.context import DATABASE

LONDON = ZoneInfo("Europe/London")
ALL_WEEK = [
    {"weekday": d, "start": "07:00", "end": "18:00", "breaks": [{"start": "12:30", "end": "13:00"}]}
    for d in range(7)
]

# Robbie's day in most rota tests: Lab 3 at 10:00, then S12 (its base) at 11:00.
LAB_THEN_S12 = (("10:00", "10:50", "Lab 3"), ("11:00", "11:50", "S12"))


def tomorrow() -> date:
    """Tomorrow in the school's zone: every lesson and move of it is in the future."""
    return datetime.now(LONDON).date() + timedelta(days=1)


def at(day: date, hhmm: str) -> datetime:
    """A London wall-clock time of ``day`` as aware UTC."""
    return datetime.combine(day, time.fromisoformat(hhmm), LONDON).astimezone(UTC)


async def add_lesson(
    database: Database, org: Org, robot_id: str, day: date, start: str, end: str, room: str
) -> str:
    """A live booking of the org's pupil on ``robot_id`` in ``room`` (London times)."""
    async with database.transaction() as db:
        booking = Booking(
            pupil_id=org.pupil.id,
            school_id=org.school_id,
            lesson_key=f"L-{day:%m%d}-{start.replace(':', '')}",
            lesson_date=day,
            starts_at=at(day, start),
            ends_at=at(day, end),
            subject="Maths",
            room=room,
            classroom_device_id=robot_id,
            status="booked",
            created_at=datetime.now(UTC),
            created_by=org.users["hospital_staff"].id,
        )
        db.add(booking)
        await db.flush()
        return booking.id


async def add_assistant(database: Database, org: Org, email: str) -> str:
    """Another assistant of the org's school; returns their id."""
    async with database.transaction() as session:
        user = await add_user(session, "assistant", org.provider_id, org.school_id, email=email)
        return user.id


async def on_duty_all_week(client: Any, admin: dict[str, str], *user_ids: str) -> None:
    """These assistants on duty every day (``ALL_WEEK``), set through the API as ``admin``."""
    for user_id in user_ids:
        resp = await client.put(
            f"/api/assistants/{user_id}/duty", json={"patterns": ALL_WEEK}, headers=admin
        )
        assert resp.status == 200, await resp.text()


async def robbie_tomorrow(
    client: Any, org: Org, *lessons: tuple[str, str, str]
) -> tuple[str, date]:
    """Robbie (base S12) booked tomorrow in each (start, end, room); its id and the day."""
    database = client.app[DATABASE]
    robot = await add_device(database, org, charging_base_room_id=org.room_ids[0])
    day = tomorrow()
    for start, end, room in lessons:
        await add_lesson(database, org, robot.id, day, start, end, room)
    return robot.id, day
