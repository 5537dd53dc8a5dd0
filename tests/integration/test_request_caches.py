"""What requests keep in memory never outlives a change: sign-ins and school calendars.

A signed-in person's token is remembered for ``PRINCIPAL_TTL_S`` (a page and its
API calls pay one lookup). A revocation committed on this instance forgets it at
once; one on another instance within the TTL. A school's calendar is remembered
under its ``updated_at``, so a change on any instance is seen by the next request.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from scheduler_factories import FIXTURES, calendar_payload
from sqlalchemy import update

from telepresence.app import create_app
from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import User
from telepresence.platform.security import auth

SIMS_CSV = (FIXTURES / "sims_timetable.csv").read_bytes()


async def test_a_user_switched_off_in_the_database_is_refused_at_once(client, org, login):
    headers = await login("coordinator")
    assert (await client.get("/api/me", headers=headers)).status == 200  # remembered now
    async with client.app[DATABASE].transaction() as db:  # not through any revoking function
        await db.execute(
            update(User).where(User.id == org.users["coordinator"].id).values(active=False)
        )
    assert (await client.get("/api/me", headers=headers)).status == 401


async def test_a_sign_out_on_another_instance_is_honoured_within_the_ttl(
    aiohttp_client, client, settings, clock, org, login
):
    headers = await login("hospital_staff")
    other = await aiohttp_client(create_app(settings, clock=clock))
    assert (await client.get("/api/me", headers=headers)).status == 200
    # The other instance signs the token out; its own cache, not this one's, saw the commit.
    before = auth._changes[0]
    assert (await other.post("/api/auth/logout", headers=headers)).status == 204
    auth._changes[0] = before  # as if the commit had happened in another process
    await asyncio.sleep(auth.PRINCIPAL_TTL_S + 0.1)
    assert (await client.get("/api/me", headers=headers)).status == 401


async def test_a_row_lock_does_not_forget_sign_ins(client, org, login, clock):
    """Booking locks the pupil's row (UPDATE ... SET active = active): not a revocation."""
    from scheduler.timetables.repository import lock_pupil

    before = auth._changes[0]
    async with client.app[DATABASE].transaction() as db:
        await lock_pupil(db, org.pupil.id)
    assert auth._changes[0] == before
    async with client.app[DATABASE].transaction() as db:
        await db.execute(update(User).where(User.id == org.users["admin"].id).values(name="A"))
    assert auth._changes[0] == before + 1


async def test_a_calendar_changed_on_another_instance_is_seen_by_the_next_request(
    aiohttp_client, client, settings, clock, org, login
):
    clock.offset = datetime(2025, 1, 1, 9, tzinfo=UTC) - datetime.now(UTC)
    staff = await login("hospital_staff")
    payload = calendar_payload()
    url = f"/api/schools/{org.school_id}/calendar"
    assert (await client.put(url, json=payload, headers=staff)).status == 200
    resp = await client.post(
        f"/api/pupils/{org.pupil.id}/timetable",
        data=SIMS_CSV,
        params={"format": "csv"},
        headers=staff | {"Content-Type": "application/octet-stream"},
    )
    assert resp.status == 200, await resp.text()
    week = {"from": "2025-03-10", "to": "2025-03-14"}
    occurrences = f"/api/pupils/{org.pupil.id}/occurrences"

    async def dates() -> set[str]:
        resp = await client.get(occurrences, params=week, headers=staff)
        assert resp.status == 200, await resp.text()
        return {o["date"] for o in await resp.json()}

    assert "2025-03-12" in await dates()  # remembered now
    other = await aiohttp_client(create_app(settings, clock=clock))
    closed = payload | {
        "closures": [
            *payload["closures"],  # type: ignore[misc]
            {"name": "Snow day", "start": "2025-03-12", "end": "2025-03-12"},
        ]
    }
    assert (await other.put(url, json=closed, headers=staff)).status == 200
    assert "2025-03-12" not in await dates()


async def test_a_lesson_changed_in_the_database_is_seen_by_the_next_week_read(
    client, clock, org, login
):
    """A pupil's lessons are remembered by their stored columns: any change is a new key."""
    from scheduler.timetables.models import LessonRow
    from telepresence.platform.models import Pupil

    clock.offset = datetime(2025, 1, 1, 9, tzinfo=UTC) - datetime.now(UTC)
    staff = await login("hospital_staff")
    assert (
        await client.put(
            f"/api/schools/{org.school_id}/calendar", json=calendar_payload(), headers=staff
        )
    ).status == 200
    async with client.app[DATABASE].transaction() as db:
        twin = Pupil(
            provider_id=org.provider_id, school_id=org.school_id, first_name="Ada",
            last_name="Twin", pupil_code="ADAT01", pin_hash="x", created_at=clock.now(),
        )  # fmt: skip
        db.add(twin)
    for pupil_id in (org.pupil.id, twin.id):  # the same timetable for two pupils
        resp = await client.post(
            f"/api/pupils/{pupil_id}/timetable",
            data=SIMS_CSV,
            params={"format": "csv"},
            headers=staff | {"Content-Type": "application/octet-stream"},
        )
        assert resp.status == 200, await resp.text()
    week = {"from": "2025-03-10", "to": "2025-03-14"}

    async def rooms(pupil_id: str) -> dict[str, set[str]]:
        url = f"/api/pupils/{pupil_id}/occurrences"
        resp = await client.get(url, params=week, headers=staff)
        assert resp.status == 200, await resp.text()
        found: dict[str, set[str]] = {}
        for o in await resp.json():
            found.setdefault(o["room"], set()).add(o["lesson_id"])
        return found

    sam, ada = await rooms(org.pupil.id), await rooms(twin.id)  # remembered now
    sam_ids = set().union(*sam.values())
    assert sam_ids.isdisjoint(set().union(*ada.values()))  # each pupil's own lessons
    async with client.app[DATABASE].transaction() as db:  # as another instance would
        await db.execute(
            update(LessonRow).where(LessonRow.pupil_id == org.pupil.id).values(room="Lab 9")
        )
    assert set((await rooms(org.pupil.id)).keys()) == {"Lab 9"}
    assert await rooms(twin.id) == ada  # the other pupil's are untouched
