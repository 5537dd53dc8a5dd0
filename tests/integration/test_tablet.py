"""The pupil's tablet pages: today's lessons in a child's words, leaving and joining again,
"too unwell today" reaching the key worker, and the robot probably not in the lesson's room."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from factories import PUPIL_PIN, add_booking, add_device, add_user
from integration.engagement_helpers import past_lesson
from integration.session_helpers import join_socket
from sqlalchemy import select

from scheduler.bookings.models import Booking
from scheduler.rota.models import MoveRow
from scheduler.timetables.models import LessonRow
from telepresence.engagement.jobs import compute_finished_outcomes
from telepresence.notifications.models import Notification
from telepresence.platform.http.context import BACKGROUND, DATABASE, JOBS, NOTIFIER
from telepresence.platform.models import School
from telepresence.reintegration.models import SchoolContactLink
from telepresence.sessions.models import LessonSession


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def tablet_sign_in(client) -> None:
    resp = await client.post(
        "/pupil-login", data={"pupil_code": "SAMK42", "pin": PUPIL_PIN}, allow_redirects=False
    )
    assert resp.status == 303


async def pupil_bearer(client) -> dict[str, str]:
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    assert resp.status == 200, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def booking_in(client, org, robot_id: str, room: str, **kw: Any) -> str:
    booking_id = await add_booking(client.app[DATABASE], org, robot_id, **kw)
    async with client.app[DATABASE].transaction() as db:
        booking = await db.get(Booking, booking_id)
        assert booking is not None
        booking.room = room
    return booking_id


async def robot_in(client, org, room: str | None, **values: Any) -> str:
    room_id = None
    if room is not None:
        room_id = org.room_ids[["S12", "Lab 3"].index(room)]
    device = await add_device(client.app[DATABASE], org, last_known_room_id=room_id, **values)
    return device.id


async def notices(client, kind: str) -> list[Notification]:
    await client.app[BACKGROUND].settled()  # the join tells people after it has answered
    async with client.app[DATABASE].sessions() as db:
        rows = await db.scalars(
            select(Notification).where(Notification.kind == kind).order_by(Notification.id)
        )
        return list(rows)


async def test_join_opens_at_a_clock_time_in_plain_words_with_the_teacher_and_room(client, org):
    robot_id = await robot_in(client, org, "S12")
    booking_id = await booking_in(client, org, robot_id, "Lab 3", starts_in=timedelta(hours=1))
    async with client.app[DATABASE].transaction() as db:
        booking = await db.get(Booking, booking_id)
        assert booking is not None
        school = await db.get(School, org.school_id)
        assert school is not None
        db.add(
            LessonRow(
                pupil_id=org.pupil.id,
                key=booking.lesson_key,
                subject="Maths",
                teacher="Mr Patel",
                room="Lab 3",
                weekday=0,
                start_time=datetime.now(UTC).time(),
                end_time=datetime.now(UTC).time(),
            )
        )
        opens = (booking.starts_at - timedelta(minutes=5)).astimezone(ZoneInfo(school.time_zone))
    await tablet_sign_in(client)
    page = await (await client.get("/today")).text()
    row = page[page.index(f'id="lesson-{booking_id}"') :]
    row = row[: row.index("</li>")]
    assert '<p class="join-later"' in row
    assert f"Join opens at {opens:%H:%M}</p>" in row
    assert "btn" not in row  # plain text: nothing that looks like a button to tap
    assert "with Mr Patel" in row
    assert "in Lab 3, Main" in row  # the room by its name, with its building


async def test_the_tablet_shows_the_pupils_week_in_friendly_words(client, org, clock):
    await tablet_sign_in(client)
    assert 'id="my-week"' not in await (await client.get("/today")).text()  # nothing to say yet
    if clock.now().hour < 1:  # the lesson below, at 00:00 UTC today, must be over
        clock.advance(timedelta(hours=1, minutes=30))
    robot_id = await robot_in(client, org, "S12")
    await past_lesson(
        client.app[DATABASE],
        org,
        robot_id,
        clock.now().date(),
        present=[(0, 30)],
        minutes=30,
        hour=0,
    )
    await compute_finished_outcomes(client.app[JOBS].context)
    page = await (await client.get("/today")).text()
    week = await (await client.get("/api/engagement/me")).json()
    assert week["text"] == "You joined 1 lesson this week (30 minutes)."
    assert f'<p class="my-week" id="my-week">{week["text"]}</p>' in page


async def test_sign_out_is_out_of_the_way_during_a_lesson(client, org):
    robot_id = await robot_in(client, org, "S12")
    booking_id = await booking_in(client, org, robot_id, "S12")
    await tablet_sign_in(client)
    today = await (await client.get("/today")).text()
    lesson = await (await client.get(f"/lessons/{booking_id}")).text()
    assert "Sign out" in today
    assert "Sign out" not in lesson
    assert 'action="/logout"' not in lesson
    assert "Leave lesson" in lesson


async def test_a_pupil_who_left_can_join_the_same_lesson_again(client, org):
    robot_id = await robot_in(client, org, "S12")
    booking_id = await booking_in(client, org, robot_id, "S12")
    pupil = await pupil_bearer(client)
    ticket = await (await client.post(f"/api/bookings/{booking_id}/join", headers=pupil)).json()
    ws, _ = await join_socket(client, ticket["token"])
    await ws.send_json({"type": "leave", "id": "l1"})
    assert (await ws.receive_json(timeout=5)) == {"type": "ack", "id": "l1"}
    await ws.close()
    async with client.app[DATABASE].sessions() as db:
        session = await db.get(LessonSession, ticket["session_id"])
        assert session is not None
        assert session.status == "open"  # leaving ends only the pupil's side

    await tablet_sign_in(client)
    page = await (await client.get(f"/today?left={booking_id}")).text()
    assert re.search(r"You left Maths\. You can join again until \d\d:\d\d\.", page)
    assert f'href="/lessons/{booking_id}">Join Maths again</a>' in page
    again = await client.post(f"/api/bookings/{booking_id}/join", headers=pupil)
    assert again.status == 200
    assert (await again.json())["session_id"] == ticket["session_id"]


async def test_too_unwell_today_on_the_tablet_tells_the_key_worker(client, org, login):
    robot_id = await robot_in(client, org, "S12")
    await booking_in(client, org, robot_id, "S12", starts_in=timedelta(hours=1))
    await tablet_sign_in(client)
    page = await (await client.get("/today")).text()
    resp = await client.post(
        "/today/unwell", data={"csrf_token": csrf_of(page)}, allow_redirects=False
    )
    assert resp.status == 303
    after = await (await client.get(resp.headers["Location"])).text()
    assert "told your key worker" in after
    later = await (await client.get("/today")).text()  # back on the page later that day
    assert "you said you are too unwell" in later
    assert "Your teacher will add them" not in later
    worker = org.users["hospital_staff"]
    staff = await login("hospital_staff")
    inbox = await (await client.get("/api/notifications", headers=staff)).json()
    told = [n for n in inbox if n["kind"] == "pupil_unwell"]
    assert len(told) == 1
    assert told[0]["subject"] == "Sam Kowalski is too unwell for lessons today"
    assert "on their tablet" in told[0]["body"]
    assert "Maths" in told[0]["body"]
    rows = await notices(client, "pupil_unwell")
    assert [(r.user_id, r.email) for r in rows] == [(worker.id, worker.email)]


async def test_the_key_worker_is_not_told_what_they_recorded_themselves(client, org, login):
    staff = await login("hospital_staff")
    resp = await client.post(f"/api/pupils/{org.pupil.id}/unwell-today", headers=staff)
    assert resp.status == 200
    assert await notices(client, "pupil_unwell") == []
    pupil = await pupil_bearer(client)  # the pupil saying it too (through the API) does tell
    resp = await client.post(f"/api/pupils/{org.pupil.id}/unwell-today", headers=pupil)
    assert resp.status == 200
    assert len(await notices(client, "pupil_unwell")) == 1


async def _school_contact(client, org) -> str:
    async with client.app[DATABASE].transaction() as db:
        contact = await add_user(
            db, "school_contact", org.provider_id, org.school_id, email="senco@school.example"
        )
        db.add(
            SchoolContactLink(
                user_id=contact.id,
                pupil_id=org.pupil.id,
                invited_by=org.users["hospital_staff"].id,
                invited_at=datetime.now(UTC),
            )
        )
        return contact.id


async def test_a_robot_last_seen_elsewhere_warns_the_pupil_and_tells_the_school(client, org):
    contact_id = await _school_contact(client, org)
    robot_id = await robot_in(client, org, "S12")
    booking_id = await booking_in(client, org, robot_id, "Lab 3")
    await tablet_sign_in(client)
    today = await (await client.get("/today")).text()
    assert "Robbie might not be in Lab 3 yet." in today
    lesson = await (await client.get(f"/lessons/{booking_id}")).text()
    assert '<p class="gentle-warning" id="room-warning" role="note">' in lesson  # not hidden
    assert "Robbie might not be in Lab 3 yet.</span> We've told your school" in lesson

    pupil = await pupil_bearer(client)
    assert (await client.post(f"/api/bookings/{booking_id}/join", headers=pupil)).status == 200
    assert (await client.post(f"/api/bookings/{booking_id}/join", headers=pupil)).status == 200
    told = await notices(client, "robot_not_in_room")
    worker = org.users["hospital_staff"]
    assert sorted((n.user_id, n.email) for n in told) == sorted(
        [(contact_id, "senco@school.example"), (worker.id, worker.email)]
    )  # once each, though the pupil joined twice
    assert all("it was last known in S12" in n.body for n in told)
    assert all(n.subject == "Robot 'Robbie' may not be in Lab 3 for Sam K." for n in told)


async def test_a_slow_mail_server_never_holds_up_the_childs_join(client, org, monkeypatch):
    await _school_contact(client, org)
    robot_id = await robot_in(client, org, "S12")
    booking_id = await booking_in(client, org, robot_id, "Lab 3")
    release = asyncio.Event()
    service = client.app[NOTIFIER]
    record = service.notify

    async def stuck_mail(notice):
        """Records as the real service does, then hangs as an unreachable SMTP server would."""
        sent = await record(notice)
        await release.wait()
        return sent

    monkeypatch.setattr(service, "notify", stuck_mail)
    pupil = await pupil_bearer(client)
    join = client.post(f"/api/bookings/{booking_id}/join", headers=pupil)
    resp = await asyncio.wait_for(join, timeout=5)
    assert resp.status == 200
    assert len(client.app[BACKGROUND]) == 1  # still telling the school, after the answer
    release.set()
    assert len(await notices(client, "robot_not_in_room")) == 2


async def test_a_robot_in_the_lessons_room_raises_nothing(client, org):
    await _school_contact(client, org)
    robot_id = await robot_in(client, org, "Lab 3")
    booking_id = await booking_in(client, org, robot_id, "Lab 3")
    await tablet_sign_in(client)
    assert "might not be in" not in await (await client.get("/today")).text()
    lesson = await (await client.get(f"/lessons/{booking_id}")).text()
    assert '<p class="gentle-warning" id="room-warning" role="note" hidden>' in lesson
    pupil = await pupil_bearer(client)
    assert (await client.post(f"/api/bookings/{booking_id}/join", headers=pupil)).status == 200
    assert await notices(client, "robot_not_in_room") == []


async def test_a_move_not_confirmed_warns_and_a_confirmed_one_does_not(client, org):
    robot_id = await robot_in(client, org, None)
    booking_id = await booking_in(client, org, robot_id, "Lab 3")
    now = datetime.now(UTC)
    async with client.app[DATABASE].transaction() as db:
        db.add(
            MoveRow(
                id="mv-test",
                school_id=org.school_id,
                local_date=now.date(),
                device_id=robot_id,
                booking_id=booking_id,
                reason="to_lesson",
                from_room_id=org.room_ids[0],
                from_room_name="S12",
                to_room_id=org.room_ids[1],
                to_room_name="Lab 3",
                earliest=now - timedelta(minutes=30),
                due=now + timedelta(minutes=2),
                status="assigned",
                created_at=now,
                updated_at=now,
            )
        )
    await tablet_sign_in(client)
    assert "Robbie might not be in Lab 3 yet." in await (await client.get("/today")).text()
    async with client.app[DATABASE].transaction() as db:
        move = await db.get(MoveRow, "mv-test")
        assert move is not None
        move.status = "done"
    assert "might not be in" not in await (await client.get("/today")).text()


async def test_the_warning_follows_the_robot_during_the_lesson(client, org, login):
    robot_id = await robot_in(client, org, "S12")
    booking_id = await booking_in(client, org, robot_id, "Lab 3")
    pupil = await pupil_bearer(client)
    staff = await login("hospital_staff")
    path = f"/api/bookings/{booking_id}/robot-room"
    assert await (await client.get(path, headers=pupil)).json() == {
        "lesson_room": "Lab 3",
        "robot": "Robbie",
        "probably_elsewhere": True,
        "warning": "Robbie might not be in Lab 3 yet.",
    }
    told = await (await client.get(path, headers=staff)).json()
    assert told["warning"] == "The robot may not be in Lab 3: it was last known in S12."
    admin = await login("admin")  # staff put the robot in its room ("Where is it now?")
    moved = await client.patch(
        f"/api/devices/{robot_id}", json={"last_known_room_id": org.room_ids[1]}, headers=admin
    )
    assert moved.status == 200, await moved.text()
    now = await (await client.get(path, headers=pupil)).json()
    assert (now["probably_elsewhere"], now["warning"]) == (False, None)
    other = await login("admin@other.example")
    assert (await client.get(path, headers=other)).status == 404
    assert (await client.get("/api/bookings/nope/robot-room", headers=pupil)).status == 404
