"""A flagged booking (its lesson removed by a re-import) carries no robot until staff decide.

Staff keep it as a one-off (the rota plans its move again, and no later re-import
flags it again) or cancel it, in the Timetables page or through the API.
"""

from __future__ import annotations

from integration.rota_helpers import LAB_THEN_S12, add_lesson, on_duty_all_week, robbie_tomorrow
from integration.test_pages import csrf_of, sign_in
from sqlalchemy import select

from scheduler.bookings.models import Booking
from scheduler.bookings.services import reconcile_bookings
from scheduler.timetables.calendar import SchoolCalendar
from telepresence.platform.http.context import CLOCK, DATABASE


async def _moves(client, org, headers, day) -> list[str]:
    url = f"/api/schools/{org.school_id}/rota"
    replan = await client.post(f"{url}/replan", params={"date": day.isoformat()}, headers=headers)
    assert replan.status in (200, 204), await replan.text()
    rota = await (await client.get(url, params={"date": day.isoformat()}, headers=headers)).json()
    return [m["summary"] for m in rota["moves"]]


async def _flag(client, lesson_starts: str) -> str:
    """Flag the booking starting at that time as a re-import that removed its lesson would."""
    async with client.app[DATABASE].transaction() as session:
        booking = next(
            b for b in await session.scalars(select(Booking)) if f"{lesson_starts}" in b.lesson_key
        )
        booking.flagged_reason = "Maths on ... is no longer in the timetable (test)"
        booking.flagged_at = client.app[CLOCK].now()
        return booking.id


async def test_no_move_to_a_removed_lessons_room_until_staff_keep_it(client, org, login):
    staff = await login("hospital_staff")
    await on_duty_all_week(client, await login("admin"), org.users["assistant"].id)
    _, day = await robbie_tomorrow(client, org, *LAB_THEN_S12)
    assert "from S12 to Lab 3" in (await _moves(client, org, staff, day))[0]
    booking_id = await _flag(client, "1000")
    moves = await _moves(client, org, staff, day)
    assert not any("Lab 3" in m for m in moves), moves
    kept = await client.post(f"/api/bookings/{booking_id}/keep", headers=staff)
    assert kept.status == 200, await kept.text()
    assert (await kept.json())["lesson_key"].startswith("1off-")
    assert "from S12 to Lab 3" in (await _moves(client, org, staff, day))[0]
    again = await client.post(f"/api/bookings/{booking_id}/keep", headers=staff)
    assert again.status == 409
    # A later re-import (no lesson of that key, nor any other) leaves the one-off alone.
    async with client.app[DATABASE].transaction() as session:
        events = await reconcile_bookings(
            session, org.pupil.id, {}, SchoolCalendar(), client.app[CLOCK].now(), "re-import"
        )
    assert [e.booking_id for e in events] != [booking_id]
    async with client.app[DATABASE].sessions() as session:
        row = await session.get(Booking, booking_id)
        assert row is not None
        assert row.flagged_reason is None


async def test_staff_decide_in_the_timetables_page(client, org, login):
    await on_duty_all_week(client, await login("admin"), org.users["assistant"].id)
    robot, day = await robbie_tomorrow(client, org, *LAB_THEN_S12)
    await add_lesson(client.app[DATABASE], org, robot, day, "13:00", "13:50", "Lab 3")
    keep_id, cancel_id = await _flag(client, "1000"), await _flag(client, "1300")
    await sign_in(client, org.email("hospital_staff"))
    week = await (await client.get(f"/pupils/{org.pupil.id}/timetable?week={day}")).text()
    # The pupil has no timetable at all: the flagged bookings still show where they are.
    assert week.count("Check: Maths on ... is no longer in the timetable") == 2
    page = await (await client.get("/timetables")).text()
    assert f'action="/bookings/{keep_id}/flagged"' in page
    assert "Keep as one-off" in page
    csrf = csrf_of(page)
    kept = await client.post(
        f"/bookings/{keep_id}/flagged", data={"csrf_token": csrf, "action": "keep"}
    )
    assert "kept as a one-off lesson" in await kept.text()
    cancelled = await client.post(
        f"/bookings/{cancel_id}/flagged", data={"csrf_token": csrf, "action": "cancel"}
    )
    html = await cancelled.text()
    assert "The booking is cancelled" in html
    assert "Bookings to check" not in html
    async with client.app[DATABASE].sessions() as session:
        row = await session.get(Booking, cancel_id)
        assert row is not None
        assert (row.status, row.cancel_reason) == ("cancelled", "lesson removed from the timetable")
    twice = await client.post(
        f"/bookings/{cancel_id}/flagged", data={"csrf_token": csrf, "action": "cancel"}
    )
    assert twice.status == 409
    coordinator = await login("coordinator")
    assert (await client.post(f"/api/bookings/{keep_id}/keep", headers=coordinator)).status == 403


async def test_an_admin_reassigns_a_robot_to_another_pupil_in_its_page(client, org, login):
    from factories import add_device

    from device_registry.models import Device
    from telepresence.platform.models import Pupil

    robot = await add_device(client.app[DATABASE], org, pupil_id=org.pupil.id)
    async with client.app[DATABASE].transaction() as session:
        other = Pupil(
            provider_id=org.provider_id,
            school_id=org.school_id,
            first_name="Noah",
            last_name="B",
            pupil_code="NOAHB2",
            created_at=client.app[CLOCK].now(),
        )
        session.add(other)
    await sign_in(client, org.email("admin"))
    page = await (await client.get(f"/devices/{robot.id}")).text()
    assert '<label for="pupil_id">Pupil' in page
    form = {"csrf_token": csrf_of(page), "action": "pupil", "pupil_id": other.id}
    done = await client.post(f"/devices/{robot.id}/lifecycle", data=form)
    assert done.status == 200, await done.text()
    async with client.app[DATABASE].sessions() as session:
        row = await session.get(Device, robot.id)
        assert row is not None
        assert row.pupil_id == other.id
