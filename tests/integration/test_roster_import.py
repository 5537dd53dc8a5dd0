"""Importing many pupils from one OneRoster bundle: all or nothing, idempotent, flags bookings."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from factories import add_device
from scheduler_factories import oneroster_files, school_calendar, zip_bundle
from sqlalchemy import func, select

from scheduler.bookings.models import Booking
from scheduler.timetables import repository as repo
from scheduler.timetables.imports import ImportRejected
from scheduler.timetables.models import LessonRow, Timetable
from scheduler.timetables.roster_import import import_roster
from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import Pupil
from telepresence.platform.security.identity import Principal, Role

NOW = datetime(2025, 1, 2, 9, tzinfo=UTC)


@pytest.fixture
async def roster(client, org):
    """Spring 2025 calendar; a second pupil; a bundle where p-17 and p-18 both have classes."""
    database = client.app[DATABASE]
    async with database.transaction() as session:
        await repo.save_calendar(session, org.school_id, school_calendar(), by="t", now=NOW)
        other = Pupil(
            provider_id=org.provider_id,
            school_id=org.school_id,
            first_name="Noah",
            last_name="B",
            pupil_code="NOAHB1",
            created_at=NOW,
        )
        session.add(other)
    files = oneroster_files()
    files["classes.csv"] += b"c-fr,,9X fr,,09,co-fr,9X/Fr1,scheduled,L3,org-1,t-spring,,,Thu:P1\r\n"
    who = Principal(Role.HOSPITAL_STAFF, org.users["hospital_staff"].id, "t", org.provider_id)
    return database, who, {org.pupil.id: "p-17", other.id: "UPN-B456"}, files


async def lesson_count(database) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(LessonRow)) or 0)


async def test_one_bundle_imports_every_pupil_once(roster):
    database, who, pupils, files = roster
    async with database.transaction() as session:
        outcomes = await import_roster(
            session, who, zip_bundle(files), pupils, file_name="r.zip", dry_run=False, now=NOW
        )
    assert [len(o.diff.added) for o in outcomes.values()] == [4, 1]
    assert await lesson_count(database) == 5
    async with database.sessions() as session:
        assert len(list(await session.scalars(select(Timetable)))) == 2
    async with database.transaction() as session:
        again = await import_roster(
            session, who, zip_bundle(files), pupils, file_name="r.zip", dry_run=False, now=NOW
        )
    assert all(o.diff.is_empty for o in again.values())
    assert await lesson_count(database) == 5


async def test_one_bad_pupil_rejects_the_whole_bundle(roster):
    database, who, pupils, files = roster
    files["classes.csv"] = files["classes.csv"].replace(b"Thu:P1", b"Thu:P9")
    with pytest.raises(ImportRejected) as caught:
        async with database.transaction() as session:
            await import_roster(
                session, who, zip_bundle(files), pupils, file_name="r.zip", dry_run=False, now=NOW
            )
    assert [p.message for p in caught.value.errors] == [
        "pupil UPN-B456: in 'Thu:P9': unknown period 'P9' in the school's bell times"
    ]
    assert await lesson_count(database) == 0


async def test_a_removed_lesson_flags_its_booking(client, org, roster):
    database, who, pupils, files = roster
    async with database.transaction() as session:
        await import_roster(
            session, who, zip_bundle(files), pupils, file_name="r.zip", dry_run=False, now=NOW
        )
    robot = await add_device(database, org, pupil_id=org.pupil.id)
    async with database.transaction() as session:
        row = await session.scalar(select(LessonRow).where(LessonRow.subject == "English"))
        assert row is not None
        session.add(
            Booking(
                pupil_id=org.pupil.id,
                school_id=org.school_id,
                lesson_key=row.key,
                lesson_date=date(2025, 1, 7),
                starts_at=datetime(2025, 1, 7, 10, 50, tzinfo=UTC),
                ends_at=datetime(2025, 1, 7, 11, 40, tzinfo=UTC),
                subject="English",
                classroom_device_id=robot.id,
                created_at=NOW,
                created_by="t",
            )
        )
    files["classes.csv"] = files["classes.csv"].replace(b"Tue:P3", b"Tue:P4")
    async with database.transaction() as session:
        outcomes = await import_roster(
            session, who, zip_bundle(files), pupils, file_name="r.zip", dry_run=False, now=NOW
        )
    assert [e.kind for e in outcomes[org.pupil.id].events] == ["flagged"]
    async with database.sessions() as session:
        booking = await session.scalar(select(Booking))
        assert booking is not None
        assert booking.status == "booked"
        assert booking.flagged_reason is not None
