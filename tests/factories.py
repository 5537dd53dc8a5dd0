"""Test data built by small functions: an organisation with one person of every role."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.bookings.models import Booking
from telepresence.platform.database import Database
from telepresence.platform.models import Provider, Pupil, Room, School, User

PG_SERVER = os.environ.get("CLASSBRIDGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery"
PUPIL_PIN = "4826"
# The test settings' metrics token: the operator who may see /healthz's and /readyz's details.
OPERATOR_TOKEN = "test-operator-token"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


@functools.cache
def cheap_hash(secret: str) -> str:
    """argon2 hashes of test secrets, computed once per run (hashing is slow on purpose)."""
    return PasswordHasher().hash(secret)


@dataclass
class Org:
    """One provider with a school, two rooms and one person of every role."""

    provider_id: str
    school_id: str
    room_ids: list[str]
    users: dict[str, User]
    pupil: Pupil
    other_provider_id: str

    def email(self, role: str) -> str:
        return self.users[role].email


async def add_user(
    session: AsyncSession,
    role: str,
    provider_id: str,
    school_id: str | None = None,
    email: str | None = None,
) -> User:
    user = User(
        email=email or f"{role}@test.example",
        name=f"Test {role.replace('_', ' ')}",
        role=role,
        password_hash=cheap_hash(PASSWORD),
        provider_id=provider_id,
        school_id=school_id,
        created_at=datetime.now(UTC),
    )
    session.add(user)
    await session.flush()
    return user


async def seed_org(database: Database) -> Org:
    """The organisation most tests start from."""
    now = datetime.now(UTC)
    async with database.transaction() as session:
        provider = Provider(name="Test Hospital School", created_at=now)
        other = Provider(name="Another Hospital School", created_at=now)
        session.add_all([provider, other])
        await session.flush()
        school = School(provider_id=provider.id, name="Test Academy", created_at=now)
        session.add(school)
        await session.flush()
        rooms = [Room(school_id=school.id, name=n, building="Main") for n in ("S12", "Lab 3")]
        session.add_all(rooms)
        users = {}
        for role in ("admin", "coordinator", "hospital_staff"):
            users[role] = await add_user(session, role, provider.id)
        users["assistant"] = await add_user(session, "assistant", provider.id, school.id)
        users["other_admin"] = await add_user(
            session, "admin", other.id, email="admin@other.example"
        )
        pupil = Pupil(
            provider_id=provider.id,
            school_id=school.id,
            first_name="Sam",
            last_name="Kowalski",
            pupil_code="SAMK42",
            pin_hash=cheap_hash(PUPIL_PIN),
            key_worker_id=users["hospital_staff"].id,
            created_at=now,
        )
        session.add(pupil)
        await session.flush()
        return Org(provider.id, school.id, [r.id for r in rooms], users, pupil, other.id)


async def add_device(database: Database, org: Org, **values: Any) -> Device:
    """A robot of the org's provider (unpaired) unless told otherwise."""
    fields: dict[str, Any] = {
        "provider_id": org.provider_id,
        "serial": "ROBOT-0001",
        "name": "Robbie",
        "model": "AV1",
        "kind": "robot",
        "capabilities": ["camera", "speaker"],
        "school_id": org.school_id,
        "created_at": datetime.now(UTC),
    } | values
    async with database.transaction() as session:
        device = Device(**fields)
        session.add(device)
        await session.flush()
        return device


async def add_booking(
    database: Database,
    org: Org,
    robot_id: str,
    *,
    starts_in: timedelta = timedelta(minutes=2),
    length: timedelta = timedelta(minutes=50),
    status: str = "booked",
) -> str:
    """A booking of the org's pupil on a robot, starting soon, in the session window."""
    start = datetime.now(UTC) + starts_in
    async with database.transaction() as db:
        booking = Booking(
            pupil_id=org.pupil.id,
            school_id=org.school_id,
            lesson_key=f"A-mon-{start:%H%M%S%f}",
            lesson_date=start.date(),
            starts_at=start,
            ends_at=start + length,
            subject="Maths",
            room="S12",
            classroom_device_id=robot_id,
            status=status,
            created_at=datetime.now(UTC),
            created_by=org.users["hospital_staff"].id,
        )
        db.add(booking)
        await db.flush()
        return booking.id
