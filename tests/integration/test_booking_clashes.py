"""Clashes under concurrency: whatever the race, a pupil or a device is booked once at a time.

On PostgreSQL a booking reads without locks, then inserts in one statement only if the
pupil's and devices' rows are as it read them (``BOOKING_INSERT``): a burst of requests
all read "free" and only one may win; the others read again and get the rules' 409. On
SQLite a booking holds the database's write lock. Both must give the same answers.
"""

from __future__ import annotations

import asyncio
from datetime import date, time

import asyncpg
import pytest
from factories import add_device
from integration.test_bookings import add_noah, book, conflict, ready
from sqlalchemy import select

from scheduler.bookings.models import Booking
from scheduler.timetables.models import LessonRow
from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import AuditEntry

__all__ = ["ready"]


async def live(client, **where: object) -> list[Booking]:
    async with client.app[DATABASE].sessions() as db:
        query = select(Booking).where(Booking.status == "booked")
        for column, value in where.items():
            query = query.where(getattr(Booking, column) == value)
        return list(await db.scalars(query))


async def twin_lesson(client, lesson_id: str) -> str:
    """Another lesson of the same pupil at the same time (a clash in their own timetable)."""
    async with client.app[DATABASE].transaction() as db:
        row = await db.get(LessonRow, lesson_id)
        assert row is not None
        twin = LessonRow(
            pupil_id=row.pupil_id, key=f"{row.key}-twin", subject="Art", class_group="",
            teacher="", room="A1", weekday=row.weekday, start_time=row.start_time,
            end_time=row.end_time, week=row.week, valid_from=row.valid_from,
            valid_to=row.valid_to, excluded_dates=[], extra_dates=[],
        )  # fmt: skip
        db.add(twin)
        await db.flush()
        return twin.id


async def test_a_pupil_booked_into_two_lessons_at_once_gets_one(client, org, ready):
    """Different lessons, different robots and tablets: only the pupil is shared."""
    twin = await twin_lesson(client, ready.lessons["A-mon-0850"])
    database = client.app[DATABASE]
    robot2 = await add_device(database, org, serial="ROBOT-0002", name="Rover")
    tablet2 = await add_device(database, org, serial="TAB-0002", name="Tess", kind="tablet")
    first = [
        book(client, org.pupil.id, ready.staff, ready.lessons["A-mon-0850"], "2025-02-03")
        for _ in range(3)
    ]
    second = [
        book(
            client, org.pupil.id, ready.staff, twin, "2025-02-03",
            classroom_device_id=robot2.id, pupil_device_id=tablet2.id,
        )
        for _ in range(3)
    ]  # fmt: skip
    answers = await asyncio.gather(*first, *second)
    assert sorted(r.status for r in answers) == [201, 409, 409, 409, 409, 409]
    for resp in answers:
        if resp.status == 409:
            detail, fields = await conflict(resp)
            assert "Sam K. is already booked into" in detail or "a moment ago" in detail
            assert fields in (["pupil"], [])
    assert len(await live(client, pupil_id=org.pupil.id, lesson_date=date(2025, 2, 3))) == 1


async def test_a_tablet_as_one_pupils_classroom_end_and_anothers_own_is_booked_once(
    client, org, ready
):
    """A tablet is a robot's column in one booking and the pupil's in the other."""
    noah_id, noah_lessons = await add_noah(client, org, ready.staff)
    sam = [
        book(client, org.pupil.id, ready.staff, ready.lessons["A-mon-0850"], "2025-01-20")
        for _ in range(3)
    ]
    noah = [
        book(
            client, noah_id, ready.staff, noah_lessons["A-mon-0850"], "2025-01-20",
            classroom_device_id=ready.tablet_id,
        )
        for _ in range(3)
    ]  # fmt: skip
    statuses = sorted(r.status for r in await asyncio.gather(*sam, *noah))
    assert statuses == [201, 409, 409, 409, 409, 409]
    on_tablet = [
        b
        for b in await live(client, lesson_date=date(2025, 1, 20))
        if ready.tablet_id in (b.classroom_device_id, b.pupil_device_id)
    ]
    assert len(on_tablet) == 1


async def test_cancelled_bookings_block_neither_the_pupil_nor_the_device(client, org, ready):
    noah_id, noah_lessons = await add_noah(client, org, ready.staff)
    sam_maths, noah_maths = ready.lessons["A-mon-0850"], noah_lessons["A-mon-0850"]

    async def cancel(booking_id: str) -> None:
        url = f"/api/bookings/{booking_id}/cancel"
        resp = await client.post(url, json={"reason": "ward round"}, headers=ready.staff)
        assert resp.status == 200

    first = await book(client, org.pupil.id, ready.staff, sam_maths, "2025-01-20")
    await cancel((await first.json())["id"])
    robot = {"classroom_device_id": ready.robot_id}
    noah = await book(client, noah_id, ready.staff, noah_maths, "2025-01-20", **robot)
    assert noah.status == 201, await noah.text()  # Sam's cancelled booking freed the robot
    detail, fields = await conflict(
        await book(client, org.pupil.id, ready.staff, sam_maths, "2025-01-20")
    )
    assert "Robot Robbie is booked for Noah B. 08:50-09:40 (Mathematics)" in detail
    assert fields == ["classroom_device_id"]
    await cancel((await noah.json())["id"])
    again = await book(client, org.pupil.id, ready.staff, sam_maths, "2025-01-20")
    assert again.status == 201, await again.text()  # neither cancelled booking counts
    assert len(await live(client, lesson_date=date(2025, 1, 20))) == 1


async def test_the_audit_entry_is_written_with_the_booking_and_only_then(client, org, ready):
    lesson = ready.lessons["A-mon-0940"]
    booked = await (await book(client, org.pupil.id, ready.staff, lesson, "2025-01-06")).json()
    refused = await book(client, org.pupil.id, ready.staff, lesson, "2025-01-06")
    assert refused.status == 409
    async with client.app[DATABASE].sessions() as db:
        found = list(await db.scalars(select(AuditEntry).where(AuditEntry.action == "booking.add")))
    assert [e.details for e in found] == [{"booking": booked["id"]}]
    assert (found[0].subject_id, found[0].actor_role) == (org.pupil.id, "hospital_staff")
    assert found[0].request_id


# --- PostgreSQL: what the booking read changed before its insert --------------------------


def _pg_only(client) -> None:
    if client.app[DATABASE].dialect != "postgresql":
        pytest.skip("the lock-free booking is PostgreSQL's")


async def test_a_booking_made_while_the_lesson_changes_follows_the_change(client, org, ready):
    """The booking read the lesson at 08:50; an import moving it to 09:00 commits before the
    booking's insert: the insert sees the lesson's row changed and the booking is re-decided."""
    _pg_only(client)
    lesson_id = ready.lessons["A-mon-0850"]
    url = client.app[DATABASE].url.replace("postgresql+asyncpg://", "postgresql://", 1)
    other = await asyncpg.connect(url)
    try:
        tx = other.transaction()
        await tx.start()
        await other.execute(
            "UPDATE lessons SET start_time = $2, end_time = $3 WHERE id = $1",
            lesson_id, time(9, 0), time(9, 50),
        )  # fmt: skip
        pending = asyncio.create_task(
            book(client, org.pupil.id, ready.staff, lesson_id, "2025-01-06")
        )
        await asyncio.sleep(0.5)  # read (08:50, as committed) and now waiting on the lesson's row
        assert not pending.done()
        await tx.commit()
        resp = await pending
    finally:
        await other.close()
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["start"] == "2025-01-06T09:00:00Z"


async def test_a_bulk_booking_and_lock_free_ones_of_one_robot_at_once_book_it_once(
    client, org, ready
):
    """The bulk booking locks (a no-op UPDATE of the rows); the single ones are lock-free."""
    noah_id, _ = await add_noah(client, org, ready.staff)
    rule = {
        "subjects": ["mathematics"], "from": "2025-01-20", "to": "2025-01-20",
        "classroom_device_id": ready.robot_id,
    }  # fmt: skip
    bulk = client.post(f"/api/pupils/{noah_id}/bookings/bulk", json=rule, headers=ready.staff)
    singles = [
        book(client, org.pupil.id, ready.staff, ready.lessons["A-mon-0850"], "2025-01-20")
        for _ in range(3)
    ]
    answers = await asyncio.gather(bulk, *singles)
    assert [r.status for r in answers[1:]].count(201) <= 1
    on_robot = [
        b
        for b in await live(client, lesson_date=date(2025, 1, 20))
        if b.classroom_device_id == ready.robot_id
    ]
    assert len(on_robot) == 1


async def test_a_booking_made_while_an_unavailability_is_saved_does_not_land_inside_it(
    client, org, ready, monkeypatch
):
    """Staff save Sam's hospital appointment; its transaction has already cancelled what it
    found and is about to commit when a lesson in those times is booked. ``cancel_during``
    holds the pupil's row (a no-op UPDATE, as every locked writer): the booking waits on it
    and is decided again, and refused. With a ``SELECT ... FOR UPDATE`` lock instead, the
    lock-free booking would not see the row change and would land, live, inside it."""
    _pg_only(client)
    from scheduler.bookings.unavailability import services as unavailability

    saved = asyncio.Event()
    release = asyncio.Event()
    cancel_during = unavailability.cancel_during

    async def cancel_then_wait(*args, **kwargs):
        outcome = await cancel_during(*args, **kwargs)
        saved.set()
        await release.wait()  # still inside the unavailability's transaction
        return outcome

    monkeypatch.setattr(unavailability, "cancel_during", cancel_then_wait)
    appointment = {
        "reason": "Hospital appointment",
        "starts_at": "2025-01-06T08:00:00Z",
        "ends_at": "2025-01-06T12:00:00Z",
    }
    entry = asyncio.create_task(
        client.post(
            f"/api/pupils/{org.pupil.id}/unavailability", json=appointment, headers=ready.staff
        )
    )
    await asyncio.wait_for(saved.wait(), 10)
    booking = asyncio.create_task(
        book(client, org.pupil.id, ready.staff, ready.lessons["A-mon-0850"], "2025-01-06")
    )
    await asyncio.sleep(0.5)
    release.set()
    stored, answered = await asyncio.gather(entry, booking)
    assert stored.status == 201, await stored.text()
    assert answered.status >= 400, await answered.text()
    assert await live(client, lesson_date=date(2025, 1, 6)) == []
