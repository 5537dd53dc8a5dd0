"""Booking occurrences through the API: defaults, every clash, bulk, cancel, flags, roles."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from factories import add_device
from integration.test_timetables import (
    SIMS_CSV,
    at,
    pupil_headers,
    put_calendar,
    set_time,
    upload,
)
from scheduler_factories import calendar_payload
from sqlalchemy import select, update

from device_registry.models import Device
from scheduler.bookings.events import BOOKINGS_TOPIC
from scheduler.bookings.models import Booking
from telepresence.platform.http.context import DATABASE, EVENTS
from telepresence.platform.models import AuditEntry, Pupil
from telepresence.platform.security.audit import flush_reads


@dataclass
class Setup:
    staff: dict[str, str]
    robot_id: str
    tablet_id: str
    lessons: dict[str, str]  # lesson key -> lesson id


async def lesson_ids(client, pupil_id: str, headers) -> dict[str, str]:
    resp = await client.get(f"/api/pupils/{pupil_id}/timetable", headers=headers)
    return {ls["lesson_key"]: ls["lesson_id"] for ls in await resp.json()}


@pytest.fixture
async def ready(client, org, login, clock) -> Setup:
    """Spring 2025 calendar, the SIMS timetable, and Sam's own robot and tablet; it is 1 Jan."""
    set_time(clock, at(2025, 1, 1, 9))
    staff = await login("hospital_staff")
    await put_calendar(client, org, staff)
    assert (await upload(client, org.pupil.id, SIMS_CSV, staff, format="csv")).status == 200
    database = client.app[DATABASE]
    robot = await add_device(database, org, pupil_id=org.pupil.id)
    tablet = await add_device(
        database, org, serial="TAB-0001", name="Tabby", kind="tablet", pupil_id=org.pupil.id
    )
    return Setup(staff, robot.id, tablet.id, await lesson_ids(client, org.pupil.id, staff))


async def book(client, pupil_id: str, headers, lesson_id: str, day: str, **devices: str):
    return await client.post(
        f"/api/pupils/{pupil_id}/bookings",
        json={"lesson_id": lesson_id, "date": day, **devices},
        headers=headers,
    )


async def conflict(resp) -> tuple[str, list[str]]:
    assert resp.status == 409, await resp.text()
    assert resp.content_type == "application/problem+json"
    problem = await resp.json()
    return problem["detail"], [e["field"] for e in problem.get("errors", [])]


async def test_a_booking_uses_the_assigned_devices_and_is_announced(client, org, ready):
    async with client.app[EVENTS].subscribe(BOOKINGS_TOPIC) as events:
        resp = await book(
            client, org.pupil.id, ready.staff, ready.lessons["A-mon-0850"], "2025-01-06"
        )
        assert resp.status == 201, await resp.text()
        booking = await resp.json()
        event = events.get_nowait()
    assert booking["classroom_device_id"] == ready.robot_id
    assert booking["pupil_device_id"] == ready.tablet_id
    assert (booking["start"], booking["end"]) == ("2025-01-06T08:50:00Z", "2025-01-06T09:40:00Z")
    assert (booking["status"], booking["room"], booking["subject"]) == (
        "booked",
        "M12",
        "Mathematics",
    )
    assert event["kind"] == "booked"
    assert event["booking_id"] == booking["id"]
    assert event["classroom_device_id"] == ready.robot_id
    occurrences = await client.get(
        f"/api/pupils/{org.pupil.id}/occurrences",
        params={"from": "2025-01-06", "to": "2025-01-06"},
        headers=ready.staff,
    )
    states = {o["lesson_key"]: (o["state"], o["booking"]) for o in await occurrences.json()}
    assert states["A-mon-0850"][0] == "booked"
    assert states["A-mon-0850"][1]["id"] == booking["id"]
    assert states["A-mon-0940"] == ("bookable", None)


async def test_booking_the_same_lesson_twice_is_a_conflict(client, org, ready):
    lesson = ready.lessons["A-mon-0850"]
    assert (await book(client, org.pupil.id, ready.staff, lesson, "2025-01-06")).status == 201
    detail, fields = await conflict(
        await book(client, org.pupil.id, ready.staff, lesson, "2025-01-06")
    )
    assert "Sam K. is already booked into this lesson" in detail
    assert fields == ["pupil"]


async def test_closures_and_non_school_days_are_conflicts(client, org, ready):
    lesson = ready.lessons["A-mon-0850"]
    detail, fields = await conflict(
        await book(client, org.pupil.id, ready.staff, lesson, "2025-02-17")
    )
    assert "closed on Mon 17 Feb 2025 (February half term)" in detail
    assert fields == ["date"]
    detail, _ = await conflict(await book(client, org.pupil.id, ready.staff, lesson, "2025-04-07"))
    assert "not a school day" in detail  # after the end of term
    wrong_day = await book(client, org.pupil.id, ready.staff, lesson, "2025-01-07")
    assert wrong_day.status == 422  # Maths is not on Tuesdays: no such occurrence


async def test_a_lesson_in_the_past_is_a_conflict(client, org, login, clock, ready):
    set_time(clock, at(2025, 1, 6, 9))
    staff = await login("hospital_staff")
    detail, fields = await conflict(
        await book(client, org.pupil.id, staff, ready.lessons["A-mon-0850"], "2025-01-06")
    )
    assert "Mathematics on Mon 06 Jan at 08:50 is in the past" in detail
    assert fields == ["date"]


async def test_unavailability_is_a_conflict(client, org, ready):
    resp = await client.post(
        f"/api/pupils/{org.pupil.id}/unavailability",
        json={"reason": "dialysis", "weekdays": [1, 3], "start": "08:00", "end": "10:00"},
        headers=ready.staff,
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["description"] == "dialysis (Tue, Thu 08:00-10:00)"
    detail, fields = await conflict(
        await book(client, org.pupil.id, ready.staff, ready.lessons["A-tue-0850"], "2025-01-07")
    )
    assert "Sam K. is unavailable: dialysis (Tue, Thu 08:00-10:00)" in detail
    assert fields == ["unavailability"]


@pytest.mark.parametrize(
    ("lifecycle", "words"), [("maintenance", "in maintenance"), ("retired", "retired")]
)
async def test_a_device_out_of_service_is_a_conflict(client, org, ready, lifecycle, words):
    async with client.app[DATABASE].transaction() as session:
        await session.execute(
            update(Device).where(Device.id == ready.robot_id).values(lifecycle=lifecycle)
        )
    detail, fields = await conflict(
        await book(client, org.pupil.id, ready.staff, ready.lessons["A-mon-0850"], "2025-01-06")
    )
    assert f"Robot Robbie is {words}" in detail
    assert fields == ["classroom_device_id"]


async def add_noah(client, org, staff) -> tuple[str, dict[str, str]]:
    """A second pupil of the same school with the same timetable and no devices."""
    async with client.app[DATABASE].transaction() as session:
        noah = Pupil(
            provider_id=org.provider_id,
            school_id=org.school_id,
            first_name="Noah",
            last_name="Brown",
            pupil_code="NOAHB7",
            created_at=datetime.now(UTC),
        )
        session.add(noah)
        await session.flush()
        noah_id = noah.id
    assert (await upload(client, noah_id, SIMS_CSV, staff, format="csv")).status == 200
    return noah_id, await lesson_ids(client, noah_id, staff)


async def test_a_robot_booked_for_another_pupil_is_a_conflict(client, org, ready):
    noah_id, noah_lessons = await add_noah(client, org, ready.staff)
    sam = await book(client, org.pupil.id, ready.staff, ready.lessons["B-mon-0850"], "2025-01-13")
    assert sam.status == 201
    no_robot = await book(client, noah_id, ready.staff, noah_lessons["B-mon-0850"], "2025-01-13")
    detail, fields = await conflict(no_robot)
    assert "Noah B. has no robot assigned" in detail
    shared = await book(
        client,
        noah_id,
        ready.staff,
        noah_lessons["B-mon-0850"],
        "2025-01-13",
        classroom_device_id=ready.robot_id,
    )
    detail, fields = await conflict(shared)
    assert "Robot Robbie is booked for Sam K. 08:50-09:40 (Mathematics)" in detail
    assert fields == ["classroom_device_id"]
    later = await book(
        client,
        noah_id,
        ready.staff,
        noah_lessons["B-mon-0940"],
        "2025-01-13",
        classroom_device_id=ready.robot_id,
    )
    assert later.status == 201  # robots are shared between pupils of a school, not at once


async def test_bulk_booking_books_by_subject_and_reports_what_it_skipped(client, org, ready):
    appointment = await client.post(
        f"/api/pupils/{org.pupil.id}/unavailability",
        json={
            "reason": "hospital appointment",
            "starts_at": "2025-01-13T08:00:00Z",
            "ends_at": "2025-01-13T12:00:00Z",
        },
        headers=ready.staff,
    )
    assert appointment.status == 201
    rule = {"subjects": ["mathematics"], "from": "2025-01-06", "to": "2025-01-26"}
    url = f"/api/pupils/{org.pupil.id}/bookings/bulk"
    resp = await client.post(url, json=rule, headers=ready.staff)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert [b["date"] for b in body["booked"]] == ["2025-01-06", "2025-01-20"]
    assert [s["date"] for s in body["skipped"]] == ["2025-01-13"]
    assert "hospital appointment" in body["skipped"][0]["reasons"][0]
    again = await (await client.post(url, json=rule, headers=ready.staff)).json()
    assert again["booked"] == []
    reasons = {s["date"]: s["reasons"] for s in again["skipped"]}
    assert "already booked into this lesson" in reasons["2025-01-06"][0]
    assert len(reasons) == 3


async def test_bulk_booking_refuses_a_reversed_range(client, org, ready):
    rule = {"subjects": [], "from": "2025-02-01", "to": "2025-01-01"}
    resp = await client.post(
        f"/api/pupils/{org.pupil.id}/bookings/bulk", json=rule, headers=ready.staff
    )
    assert resp.status == 422


async def test_cancelling_keeps_the_booking_with_its_reason_and_frees_the_lesson(
    client, org, ready
):
    lesson = ready.lessons["A-mon-0850"]
    booking = await (await book(client, org.pupil.id, ready.staff, lesson, "2025-01-06")).json()
    url = f"/api/bookings/{booking['id']}/cancel"
    async with client.app[EVENTS].subscribe(BOOKINGS_TOPIC) as events:
        resp = await client.post(url, json={"reason": "ward round"}, headers=ready.staff)
        event = events.get_nowait()
    assert resp.status == 200
    assert ((await resp.json())["status"], (await resp.json())["cancel_reason"]) == (
        "cancelled",
        "ward round",
    )
    assert (event["kind"], event["reason"]) == ("cancelled", "ward round")
    twice = await client.post(url, json={"reason": "again"}, headers=ready.staff)
    detail, _ = await conflict(twice)
    assert "already cancelled" in detail
    assert (await book(client, org.pupil.id, ready.staff, lesson, "2025-01-06")).status == 201
    listed = await client.get(
        f"/api/pupils/{org.pupil.id}/bookings",
        params={"from": "2025-01-06", "to": "2025-01-06"},
        headers=ready.staff,
    )
    assert [b["status"] for b in await listed.json()] == ["cancelled", "booked"]


async def test_reimport_flags_bookings_of_vanished_lessons_and_follows_room_changes(
    client, org, login, ready
):
    for key, day in (
        ("A-mon-0850", "2025-01-06"),
        ("A-tue-0850", "2025-01-07"),
        ("*-fri-1140", "2025-01-10"),
    ):
        assert (
            await book(client, org.pupil.id, ready.staff, ready.lessons[key], day)
        ).status == 201
    updated = SIMS_CSV.replace(b"Lab 2\r\nA;Wed", b"Lab 5\r\nA;Wed")
    updated = b"\r\n".join(ln for ln in updated.split(b"\r\n") if b"PSHE" not in ln)
    async with client.app[EVENTS].subscribe(BOOKINGS_TOPIC) as events:
        resp = await upload(client, org.pupil.id, updated, ready.staff, format="csv")
        assert resp.status == 200, await resp.text()
        kinds = sorted(events.get_nowait()["kind"] for _ in range(events.qsize()))
    assert (await resp.json())["flagged_bookings"] == 1
    assert kinds == ["changed", "flagged"]
    listed = await client.get(
        f"/api/pupils/{org.pupil.id}/bookings",
        params={"from": "2025-01-06", "to": "2025-01-10"},
        headers=ready.staff,
    )
    by_key = {b["lesson_key"]: b for b in await listed.json()}
    assert by_key["*-fri-1140"]["status"] == "booked"  # flagged, never deleted
    assert "no longer in the timetable" in by_key["*-fri-1140"]["flagged_reason"]
    assert (by_key["A-tue-0850"]["room"], by_key["A-tue-0850"]["flagged_reason"]) == ("Lab 5", None)
    assert by_key["A-mon-0850"]["flagged_reason"] is None
    flagged = await client.get("/api/bookings/flagged", headers=ready.staff)
    assert [b["lesson_key"] for b in await flagged.json()] == ["*-fri-1140"]
    other = await client.get("/api/bookings/flagged", headers=await login("other_admin"))
    assert await other.json() == []
    await flush_reads(client.app)  # reads are audited behind the request
    async with client.app[DATABASE].sessions() as session:
        actions = set(await session.scalars(select(AuditEntry.action)))
    assert {"timetable.import", "booking.add", "bookings.read", "bookings.flagged"} <= actions


async def test_a_new_closure_flags_bookings_inside_it(client, org, ready):
    assert (
        await book(client, org.pupil.id, ready.staff, ready.lessons["A-mon-0850"], "2025-01-20")
    ).status == 201
    payload = calendar_payload()
    payload["closures"] = [
        *payload["closures"],
        {"name": "Snow day", "start": "2025-01-20", "end": "2025-01-20"},
    ]  # type: ignore[misc]
    resp = await client.put(
        f"/api/schools/{org.school_id}/calendar", json=payload, headers=ready.staff
    )
    assert resp.status == 200
    assert (await resp.json())["flagged_bookings"] == 1


async def test_who_may_book_cancel_and_read(client, org, login, ready):
    lesson = ready.lessons["A-mon-0850"]
    for role in ("coordinator", "assistant"):
        refused = await book(client, org.pupil.id, await login(role), lesson, "2025-01-06")
        assert refused.status == 403, role
    pupil = await pupil_headers(client)
    assert (await book(client, org.pupil.id, pupil, lesson, "2025-01-06")).status == 403
    booking = await (await book(client, org.pupil.id, ready.staff, lesson, "2025-01-06")).json()
    query = {"from": "2025-01-06", "to": "2025-01-10"}
    url = f"/api/pupils/{org.pupil.id}/bookings"
    own = await client.get(url, params=query, headers=pupil)
    assert [b["id"] for b in await own.json()] == [booking["id"]]
    assert (await client.get(url, params=query, headers=await login("assistant"))).status == 403
    assert (await client.get(url, params=query, headers=await login("coordinator"))).status == 200
    cancel_url = f"/api/bookings/{booking['id']}/cancel"
    for headers in (pupil, await login("coordinator")):
        assert (await client.post(cancel_url, json={"reason": "x"}, headers=headers)).status == 403
    other = await login("other_admin")
    assert (await client.post(cancel_url, json={"reason": "x"}, headers=other)).status == 404
    assert (await book(client, org.pupil.id, other, lesson, "2025-01-13")).status == 404


async def test_too_unwell_today_cancels_what_has_not_started(client, org, clock, ready):
    for key in ("A-mon-0850", "A-mon-0940"):
        assert (
            await book(client, org.pupil.id, ready.staff, ready.lessons[key], "2025-01-06")
        ).status == 201
    set_time(clock, at(2025, 1, 6, 9))  # Maths (08:50) under way, English (09:40) to come
    pupil = await pupil_headers(client)
    resp = await client.post(f"/api/pupils/{org.pupil.id}/unwell-today", headers=pupil)
    assert resp.status == 200, await resp.text()
    cancelled = (await resp.json())["cancelled"]
    assert [(b["lesson_key"], b["cancel_reason"]) for b in cancelled] == [
        ("A-mon-0940", "too unwell today")
    ]
    occurrences = await client.get(
        f"/api/pupils/{org.pupil.id}/occurrences",
        params={"from": "2025-01-06", "to": "2025-01-06"},
        headers=pupil,
    )
    states = {o["lesson_key"]: o["state"] for o in await occurrences.json()}
    assert states == {"A-mon-0850": "booked", "A-mon-0940": "unavailable"}


async def test_two_staff_booking_one_robot_at_once_cannot_both_win(client, org, ready):
    noah_id, noah_lessons = await add_noah(client, org, ready.staff)
    sam, noah = await asyncio.gather(
        book(client, org.pupil.id, ready.staff, ready.lessons["A-mon-0850"], "2025-01-20"),
        book(
            client,
            noah_id,
            ready.staff,
            noah_lessons["A-mon-0850"],
            "2025-01-20",
            classroom_device_id=ready.robot_id,
        ),
    )
    assert sorted([sam.status, noah.status]) == [201, 409]


async def test_a_burst_of_bookings_of_one_robot_at_one_time_books_it_once(client, org, ready):
    """Devices are locked together (one statement, in order of id) before the clash check."""
    noah_id, noah_lessons = await add_noah(client, org, ready.staff)
    sam = [
        book(client, org.pupil.id, ready.staff, ready.lessons["A-mon-0850"], "2025-02-03")
        for _ in range(3)
    ]
    noah = [
        book(
            client,
            noah_id,
            ready.staff,
            noah_lessons["A-mon-0850"],
            "2025-02-03",
            classroom_device_id=ready.robot_id,
        )
        for _ in range(3)
    ]
    statuses = sorted(r.status for r in await asyncio.gather(*sam, *noah))
    assert statuses == [201, 409, 409, 409, 409, 409]
    async with client.app[DATABASE].sessions() as db:
        live = await db.scalars(
            select(Booking.id).where(
                Booking.classroom_device_id == ready.robot_id,
                Booking.lesson_date == date(2025, 2, 3),
                Booking.status == "booked",
            )
        )
        assert len(list(live)) == 1


async def test_two_cancellations_at_once_cancel_once(client, org, ready):
    lesson = ready.lessons["A-mon-0850"]
    booking = await (await book(client, org.pupil.id, ready.staff, lesson, "2025-01-06")).json()
    url = f"/api/bookings/{booking['id']}/cancel"
    first, second = await asyncio.gather(
        client.post(url, json={"reason": "a"}, headers=ready.staff),
        client.post(url, json={"reason": "b"}, headers=ready.staff),
    )
    assert sorted([first.status, second.status]) == [200, 409]


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"lesson_id": 7}', b'{"date": "soon"}'])
async def test_malformed_booking_requests_are_422_not_500(client, org, ready, body):
    resp = await client.post(
        f"/api/pupils/{org.pupil.id}/bookings",
        data=body,
        headers=ready.staff | {"Content-Type": "application/json"},
    )
    assert resp.status == 422
    assert (await resp.json())["detail"]


async def test_a_lesson_that_has_ended_cannot_be_cancelled(client, org, login, clock, ready):
    lesson = ready.lessons["A-mon-0850"]
    booking = await (await book(client, org.pupil.id, ready.staff, lesson, "2025-01-06")).json()
    set_time(clock, at(2025, 1, 6, 10))
    staff = await login("hospital_staff")
    resp = await client.post(
        f"/api/bookings/{booking['id']}/cancel", json={"reason": "late"}, headers=staff
    )
    detail, _ = await conflict(resp)
    assert "already ended" in detail


async def test_an_unavailability_on_another_day_cancels_the_bookings_it_covers(client, org, ready):
    maths = ready.lessons["A-mon-0850"]
    english = ready.lessons["A-mon-0940"]
    for lesson_id in (maths, english):
        assert (
            await book(client, org.pupil.id, ready.staff, lesson_id, "2025-01-20")
        ).status == 201
    assert (await book(client, org.pupil.id, ready.staff, maths, "2025-02-03")).status == 201
    async with client.app[EVENTS].subscribe(BOOKINGS_TOPIC) as events:
        unwell = await client.post(
            f"/api/pupils/{org.pupil.id}/unavailability",
            json={
                "reason": "too unwell",
                "starts_at": "2025-01-20T00:00:00Z",
                "ends_at": "2025-01-20T09:00:00Z",
            },
            headers=ready.staff,
        )
        event = events.get_nowait()
    assert (event["kind"], event["reason"]) == ("cancelled", "unavailable: too unwell")
    assert unwell.status == 201, await unwell.text()
    assert (await unwell.json())["cancelled_bookings"] == 1  # Maths; English starts at 09:40
    listed = await client.get(
        f"/api/pupils/{org.pupil.id}/bookings",
        params={"from": "2025-01-20", "to": "2025-02-03"},
        headers=ready.staff,
    )
    states = {
        (b["lesson_key"], b["date"]): (b["status"], b["cancel_reason"]) for b in await listed.json()
    }
    assert states[("A-mon-0850", "2025-01-20")] == ("cancelled", "unavailable: too unwell")
    assert states[("A-mon-0940", "2025-01-20")] == ("booked", None)
    assert states[("A-mon-0850", "2025-02-03")] == ("booked", None)
