"""Past lessons say what happened in them: on the staff's week page and in the occurrences API."""

from __future__ import annotations

import re
from datetime import timedelta

from factories import add_device
from integration.engagement_helpers import event
from integration.test_pages import sign_in
from integration.test_timetables import SIMS_CSV, at, put_calendar, set_time, upload
from sqlalchemy import select

from scheduler.bookings.models import Booking
from telepresence.engagement.jobs import compute_finished_outcomes
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.sessions.models import LessonSession

WEEK = "2025-01-06"  # week A: Mon Maths P1 + English P2, Tue Science, Wed Art, Thu D&T, Fri PSHE


def _pill(html: str, subject: str) -> str:
    """The state pill of the subject's (only) occurrence in the week grid."""
    found = re.search(
        rf"<strong>{re.escape(subject)}</strong>.*?<span class=\"pill ([^\"]+)\">([^<]+)</span>",
        html,
        re.S,
    )
    assert found, subject
    return f"{found.group(1)}: {found.group(2)}"


async def _attend(database, booking: Booking, spans: list[tuple[int, int]]) -> None:
    async with database.transaction() as db:
        session = LessonSession(
            booking_id=booking.id,
            pupil_id=booking.pupil_id,
            robot_id=booking.classroom_device_id,
            status="ended",
            opens_at=booking.starts_at - timedelta(minutes=5),
            closes_at=booking.ends_at + timedelta(minutes=5),
            created_at=booking.starts_at - timedelta(minutes=5),
            ended_at=booking.ends_at,
        )
        db.add(session)
        await db.flush()
        for i, (a, b) in enumerate(spans):
            db.add(
                event(
                    session.id,
                    booking.starts_at + timedelta(minutes=a),
                    "joined" if i == 0 else "reconnected",
                )
            )
            db.add(event(session.id, booking.starts_at + timedelta(minutes=b), "left"))


async def test_past_lessons_show_their_outcome_once_computed(client, org, login, clock):
    set_time(clock, at(2025, 1, 6, 7))
    staff = await login("hospital_staff")
    await put_calendar(client, org, staff)
    database = client.app[DATABASE]
    await add_device(database, org, pupil_id=org.pupil.id)
    assert (await upload(client, org.pupil.id, SIMS_CSV, staff)).status == 200
    bulk = await client.post(
        f"/api/pupils/{org.pupil.id}/bookings/bulk",
        json={"subjects": [], "from": WEEK, "to": "2025-01-10"},
        headers=staff,
    )
    assert bulk.status == 200, await bulk.text()
    booked = {b["subject"]: b for b in (await bulk.json())["booked"]}
    cancel = await client.post(
        f"/api/bookings/{booked['Science']['id']}/cancel",
        json={"reason": "too unwell today"},
        headers=staff,
    )
    assert cancel.status == 200, await cancel.text()
    async with database.sessions() as db:
        rows = {b.subject: b for b in await db.scalars(select(Booking))}
    await _attend(database, rows["Mathematics"], [(0, 60)])  # the whole lesson
    await _attend(database, rows["Art"], [(0, 10)])  # ten minutes
    # English: booked, never joined.

    set_time(clock, at(2025, 1, 9, 7))  # Thursday morning: Mon-Wed are over
    await sign_in(client, org.email("hospital_staff"))
    page = await (await client.get(f"/pupils/{org.pupil.id}/timetable?week={WEEK}")).text()
    assert _pill(page, "Mathematics") == "booked: Booked", "no outcome is computed yet"
    assert _pill(page, "Science") == "past: Past"

    assert await compute_finished_outcomes(client.app[JOBS].context) == 4
    page = await (await client.get(f"/pupils/{org.pupil.id}/timetable?week={WEEK}")).text()
    minutes = round((rows["Mathematics"].ends_at - rows["Mathematics"].starts_at).seconds / 60)
    assert _pill(page, "Mathematics") == (
        f"outcome outcome-attended: Attended {min(60, minutes)} of {minutes} min"
    )
    art = round((rows["Art"].ends_at - rows["Art"].starts_at).seconds / 60)
    assert _pill(page, "Art") == f"outcome outcome-partial: Partly attended: 10 of {art} min"
    assert _pill(page, "English") == "outcome outcome-missed: Missed"
    assert _pill(page, "Science") == "outcome outcome-cancelled: Cancelled: unwell"
    assert _pill(page, "Design &amp; Technology") == "booked: Booked", "not over yet"

    occurrences = await client.get(
        f"/api/pupils/{org.pupil.id}/occurrences",
        params={"from": WEEK, "to": "2025-01-10"},
        headers=await login("coordinator"),
    )
    assert occurrences.status == 200
    by_subject = {o["subject"]: o for o in await occurrences.json()}
    assert by_subject["English"]["outcome"] == {
        "outcome": "missed",
        "reason": None,
        "description": "Missed",
    }
    assert by_subject["Science"]["state"] == "past"
    assert by_subject["Science"]["outcome"]["description"] == "Cancelled: unwell"
    assert by_subject["Design & Technology"]["outcome"] is None
    assert by_subject["Mathematics"]["booking"]["outcome"] == "attended"
    assert by_subject["Mathematics"]["booking"]["status"] == "booked"
    assert by_subject["Art"]["booking"]["outcome"] == "partial"
