"""A pupil's week is served as it was last answered while nothing it is computed from changed.

The answer is kept under the pupil's and the school's data versions, which the database's
triggers raise with every change (``telepresence.platform.versions``): a booking, an
unavailability, a timetable or a calendar change, made through the API or in plain SQL as
another instance or an operator would, shows in the next read. Every read is audited.
"""

from __future__ import annotations

from typing import Any

import pytest
from integration.test_bookings import Setup, book, ready
from integration.test_read_audit import _reads
from integration.test_timetables import at, pupil_headers, set_time
from sqlalchemy import text

import scheduler.bookings.web as booking_web
from telepresence.platform.http.context import DATABASE
from telepresence.platform.security.audit import READ_AUDIT

__all__ = ["ready"]  # the fixture, imported to be used here

WEEK = {"from": "2025-03-10", "to": "2025-03-14"}


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the weeks computed (not served from memory), by pupil."""
    computed: list[str] = []
    compute = booking_web._week_answer

    async def counting(request: Any, who: Any, pupil_id: str, *args: Any) -> Any:
        computed.append(pupil_id)
        return await compute(request, who, pupil_id, *args)

    monkeypatch.setattr(booking_web, "_week_answer", counting)
    return computed


async def week(client, org, headers) -> list[dict[str, Any]]:
    url = f"/api/pupils/{org.pupil.id}/occurrences"
    resp = await client.get(url, params=WEEK, headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/json"
    return list(await resp.json())


def states(found: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {(o["lesson_key"], o["date"]): o["state"] for o in found}


async def sql(client, statement: str, **params: Any) -> None:
    """A change made in plain SQL, not through any of the service's code (another instance)."""
    async with client.app[DATABASE].transaction() as db:
        await db.execute(text(statement), params)


async def test_a_week_read_again_is_served_from_memory_and_audited_each_time(
    client, org, ready: Setup, answered, clock
):
    first = await week(client, org, ready.staff)
    assert first
    assert await week(client, org, ready.staff) == first
    assert await week(client, org, ready.staff) == first
    assert answered == [org.pupil.id]  # computed once
    await client.app[READ_AUDIT].flush()
    assert await _reads(client.app[DATABASE]) == 3  # every read is in the audit log


async def test_a_booking_made_or_cancelled_shows_in_the_next_read(
    client, org, ready: Setup, answered, clock
):
    first = await week(client, org, ready.staff)
    target = first[0]
    assert target["state"] == "bookable"
    resp = await book(client, org.pupil.id, ready.staff, target["lesson_id"], target["date"])
    assert resp.status == 201, await resp.text()
    booking_id = (await resp.json())["id"]
    after = await week(client, org, ready.staff)
    assert states(after)[(target["lesson_key"], target["date"])] == "booked"
    assert after[0]["booking"]["id"] == booking_id
    # Cancelled by another instance (or by hand): the week shows it free again.
    await sql(client, "UPDATE bookings SET status = 'cancelled' WHERE id = :id", id=booking_id)
    assert await week(client, org, ready.staff) == first
    assert len(answered) == 3


async def test_an_unavailability_added_or_removed_shows_in_the_next_read(
    client, org, ready: Setup, clock
):
    first = await week(client, org, ready.staff)
    assert {o["state"] for o in first} == {"bookable"}
    resp = await client.post(
        f"/api/pupils/{org.pupil.id}/unavailability",
        json={"reason": "Dialysis", "weekdays": [0], "start": "08:00", "end": "18:00"},
        headers=ready.staff,
    )
    assert resp.status == 201, await resp.text()
    monday = {o["state"] for o in await week(client, org, ready.staff) if o["date"] == WEEK["from"]}
    assert monday == {"unavailable"}
    await sql(client, "DELETE FROM unavailability WHERE pupil_id = :p", p=org.pupil.id)
    assert await week(client, org, ready.staff) == first


async def test_a_timetable_changed_in_the_database_shows_in_the_next_read(
    client, org, ready: Setup, clock
):
    first = await week(client, org, ready.staff)
    gone = first[0]["lesson_id"]
    await sql(client, "DELETE FROM lessons WHERE id = :id", id=gone)
    after = await week(client, org, ready.staff)
    assert gone not in {o["lesson_id"] for o in after}
    assert len(after) < len(first)


async def test_a_calendar_changed_in_the_database_shows_in_the_next_read(
    client, org, ready: Setup, clock
):
    """Not through ``save_calendar``: its ``updated_at`` stamp stays as it was."""
    assert "2025-03-12" in {o["date"] for o in await week(client, org, ready.staff)}
    await sql(
        client,
        "INSERT INTO school_closures (id, school_id, name, start_date, end_date)"
        " VALUES ('snowday', :school, 'Snow day', '2025-03-12', '2025-03-12')",
        school=org.school_id,
    )
    assert "2025-03-12" not in {o["date"] for o in await week(client, org, ready.staff)}


async def test_a_kept_week_turns_past_lesson_by_lesson(client, org, ready: Setup, login, clock):
    first = await week(client, org, ready.staff)
    assert {o["state"] for o in first} == {"bookable"}
    set_time(clock, at(2025, 3, 10, 9))  # Monday's first lesson has begun, none has ended
    after = await week(client, org, await login("hospital_staff"))
    begun = {(o["lesson_key"], o["date"]) for o in first if o["start"] <= "2025-03-10T09:00"}
    assert begun
    assert {k for k, state in states(after).items() if state == "past"} == begun


async def test_who_may_see_the_week_is_checked_on_every_read(
    client, org, ready: Setup, login, clock
):
    """The versions' one query also says who may see the pupil: a kept answer leaks nothing."""
    first = await week(client, org, ready.staff)  # kept now
    assert await week(client, org, await pupil_headers(client)) == first
    url = f"/api/pupils/{org.pupil.id}/occurrences"
    other = await login("other_admin")
    assert (await client.get(url, params=WEEK, headers=other)).status == 404
    await sql(
        client, "UPDATE pupils SET provider_id = :p WHERE id = :id", p=org.other_provider_id,
        id=org.pupil.id,
    )  # fmt: skip
    assert (await client.get(url, params=WEEK, headers=ready.staff)).status == 404
