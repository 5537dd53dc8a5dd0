"""Small builders for the rota's integration tests: lessons on a day, assistants on duty."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from factories import Org, add_user

from scheduler.models import Booking
from telepresence.platform.database import Database

LONDON = ZoneInfo("Europe/London")
ALL_WEEK = [
    {"weekday": d, "start": "07:00", "end": "18:00", "breaks": [{"start": "12:30", "end": "13:00"}]}
    for d in range(7)
]


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
