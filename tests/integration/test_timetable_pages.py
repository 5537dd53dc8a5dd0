"""Staff timetable pages: the week grid, one-click booking, cancel, bulk, import, unavailability."""

from __future__ import annotations

import re

import aiohttp
import pytest
from factories import add_device
from integration.test_pages import csrf_of, sign_in
from integration.test_timetables import SIMS_CSV, at, put_calendar, set_time
from scheduler_factories import oneroster_files, zip_bundle
from sqlalchemy import func, select

from scheduler.bookings.models import Booking, UnavailabilityRow
from scheduler.timetables.models import LessonRow
from telepresence.platform.http.context import DATABASE


@pytest.fixture
async def staff_page(client, org, login, clock):
    """Spring 2025 (week A starts Mon 6 Jan); Sam has a robot and tablet; staff signed in."""
    set_time(clock, at(2025, 1, 6, 7))
    await put_calendar(client, org, await login("hospital_staff"))
    database = client.app[DATABASE]
    await add_device(database, org, pupil_id=org.pupil.id)
    await add_device(
        database, org, serial="TAB-0001", name="Tabby", kind="tablet", pupil_id=org.pupil.id
    )
    await sign_in(client, org.email("hospital_staff"))
    return f"/pupils/{org.pupil.id}"


async def count(client, model) -> int:
    async with client.app[DATABASE].sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def preview(client, base: str, data: bytes, name: str = "sims.csv", roster_id: str = ""):
    page = await (await client.get(f"{base}/timetable/import")).text()
    form = {"csrf_token": csrf_of(page), "action": "preview", "format": "", "roster_id": roster_id}
    body = aiohttp.FormData(form)
    body.add_field("file", data, filename=name, content_type="text/csv")
    return await client.post(f"{base}/timetable/import", data=body)


async def imported(client, base: str) -> None:
    resp = await preview(client, base, SIMS_CSV)
    html = await resp.text()
    payload = re.search(r'name="payload" value="([^"]+)"', html)
    assert payload, html
    confirm = {
        "csrf_token": csrf_of(html),
        "action": "import",
        "payload": payload.group(1),
        "file_name": "sims.csv",
        "format": "csv",
        "roster_id": "",
    }
    done = await client.post(f"{base}/timetable/import", data=confirm, allow_redirects=False)
    assert done.status == 303
    assert done.headers["Location"] == f"{base}/timetable?notice=imported"


async def test_import_previews_then_imports(client, staff_page):
    resp = await preview(client, staff_page, SIMS_CSV)
    html = await resp.text()
    assert resp.status == 200
    assert "would add 10, change 0 and remove 0 lessons" in html
    assert "Design &amp; Technology" in html
    assert await count(client, LessonRow) == 0, "a preview saves nothing"
    await imported(client, staff_page)
    assert await count(client, LessonRow) == 10


async def test_a_bad_file_lists_its_lines_escaped_and_saves_nothing(client, staff_page):
    bad = b'Day,Start,End,Subject,Room\nMon,09:00,10:00,<script>x</script>,=HYPERLINK("e")\n'
    bad += b"Tue,25:00,10:00,Maths,R2\nFunday,09:00,10:00,Maths,R2\n"
    resp = await preview(client, staff_page, bad, "bad.csv")
    html = await resp.text()
    assert resp.status == 422
    assert resp.content_type == "text/html"
    assert "2 problems found; nothing was changed" in html
    assert '<td data-label="Line">3</td>' in html
    assert '<td data-label="Line">4</td>' in html
    assert "&#39;25:00&#39; is not a possible time of day" in html
    assert "<script>x" not in html
    assert await count(client, LessonRow) == 0


async def test_week_grid_books_and_cancels_with_one_click(client, org, staff_page):
    await imported(client, staff_page)
    html = await (await client.get(f"{staff_page}/timetable?week=2025-01-08")).text()
    assert "Week A" in html
    assert '<th scope="col" aria-current="date">Mon 6 Jan</th>' in html
    assert 'aria-label="Book Mathematics on Mon 6 Jan at 08:50"' in html
    lesson_id = re.search(
        r'name="lesson_id" value="(\w+)">\s*<input type="hidden" name="date" value="2025-01-06"',
        html,
    )
    assert lesson_id
    form = {"csrf_token": csrf_of(html), "lesson_id": lesson_id.group(1), "date": "2025-01-06"}
    booked = await client.post(
        f"{staff_page}/timetable/book", data=form | {"week": "2025-01-06"}, allow_redirects=False
    )
    assert booked.status == 303
    page = await (await client.get(booked.headers["Location"])).text()
    assert "The lesson is booked." in page
    assert '<span class="pill booked">Booked</span>' in page
    again = await client.post(f"{staff_page}/timetable/book", data=form | {"week": "2025-01-06"})
    assert again.status == 409
    assert "already booked into this lesson" in await again.text()

    booking_id = re.search(r'name="booking_id" value="(\w+)"', page)
    assert booking_id
    cancel = {"csrf_token": csrf_of(page), "booking_id": booking_id.group(1), "week": "2025-01-06"}
    no_reason = await client.post(f"{staff_page}/timetable/cancel", data=cancel | {"reason": ""})
    assert no_reason.status == 422
    assert "Say why the booking is cancelled" in await no_reason.text()
    done = await client.post(
        f"{staff_page}/timetable/cancel",
        data=cancel | {"reason": "MRI scan moved"},
        allow_redirects=False,
    )
    assert done.status == 303
    async with client.app[DATABASE].sessions() as session:
        row = await session.get(Booking, booking_id.group(1))
        assert row is not None
        assert (row.status, row.cancel_reason) == ("cancelled", "MRI scan moved")


async def test_half_term_shows_closed_days(client, staff_page):
    await imported(client, staff_page)
    html = await (await client.get(f"{staff_page}/timetable?week=2025-02-19")).text()
    assert "Closed: February half term" in html
    assert "Book Mathematics" not in html


async def test_bulk_booking_skips_unavailability_and_says_why(client, staff_page):
    await imported(client, staff_page)
    page = await (await client.get(f"{staff_page}/unavailability")).text()
    weekly = {
        "csrf_token": csrf_of(page),
        "kind": "weekly",
        "reason": "dialysis",
        "start": "08:30",
        "end": "09:30",
    }
    added = await client.post(
        f"{staff_page}/unavailability", data=[*weekly.items(), ("weekday", "0")]
    )
    assert added.status == 200
    assert "dialysis (Mon 08:30-09:30)" in await added.text()
    assert await count(client, UnavailabilityRow) == 1

    form = await (await client.get(f"{staff_page}/timetable/bulk")).text()
    assert 'value="Mathematics"' in form
    fields = [
        ("csrf_token", csrf_of(form)),
        ("subject", "Mathematics"),
        ("subject", "English"),
        ("from", "2025-01-06"),
        ("to", "2025-01-19"),
    ]
    resp = await client.post(f"{staff_page}/timetable/bulk", data=fields)
    html = await resp.text()
    assert resp.status == 200
    # Two weeks: A (Maths P1 + English P2 Monday) and B (Maths P1 Monday); Maths P1 clashes.
    assert "Booked 1 lesson; skipped 2." in html
    assert html.count("is unavailable: dialysis") == 2
    assert await count(client, Booking) == 1


async def test_unavailability_form_errors_stay_in_the_page(client, staff_page):
    page = await (await client.get(f"{staff_page}/unavailability")).text()
    form = {"csrf_token": csrf_of(page), "kind": "once", "reason": "scan"}
    resp = await client.post(
        f"{staff_page}/unavailability",
        data=form | {"starts": "2025-01-07T10:00", "ends": "2025-01-07T09:00"},
    )
    assert resp.status == 422
    assert resp.content_type == "text/html"
    assert "must start before it ends" in await resp.text()
    assert await count(client, UnavailabilityRow) == 0


async def test_coordinators_read_but_cannot_book(client, org, staff_page):
    await imported(client, staff_page)
    client.session.cookie_jar.clear()
    await sign_in(client, org.email("coordinator"))
    html = await (await client.get(f"{staff_page}/timetable?week=2025-01-06")).text()
    assert '<span class="pill bookable">Bookable</span>' in html
    assert "Book Mathematics" not in html
    assert (await client.get(f"{staff_page}/timetable/bulk", allow_redirects=False)).status == 403


async def test_another_providers_pupil_is_not_found_in_a_page(client, staff_page):
    resp = await client.get("/pupils/nobody/timetable")
    assert resp.status == 404
    assert resp.content_type == "text/html"
    assert "There is no pupil" in await resp.text()


async def test_timetables_page_lists_pupils_and_the_record_links_to_it(client, org, staff_page):
    await imported(client, staff_page)
    html = await (await client.get("/timetables")).text()
    assert '<a href="/timetables" aria-current="page">Timetables</a>' in html
    assert f'<a href="{staff_page}">Sam' in html
    assert '<td data-label="Lessons">10</td>' in html
    record = await (await client.get(staff_page)).text()
    assert f'href="{staff_page}/timetable"' in record


async def test_a_oneroster_preview_shows_how_each_period_code_was_read(client, org, staff_page):
    bundle = zip_bundle(oneroster_files(periods={"c-ma": "MonA:1", "c-en": "X9"}))
    refused = await preview(client, staff_page, bundle, "roster.zip", roster_id="p-17")
    html = await refused.text()
    assert refused.status == 422
    assert f'href="/schools/{org.school_id}/calendar#period-codes"' in html
    bundle = zip_bundle(oneroster_files(periods={"c-ma": "MonA:1", "c-en": "Tue-2B"}))
    html = await (await preview(client, staff_page, bundle, "roster.zip", roster_id="p-17")).text()
    table = html[html.index('id="period-codes"') :]
    assert (
        '<td data-label="Code">MonA:1</td><td data-label="Read as">Week A, Mon, P1 08:50-09:40'
        in table
    )
    assert "Week B, Tue, P2 09:40-10:30" in table


async def test_bulk_booking_over_half_term_says_the_school_is_shut(client, staff_page):
    await imported(client, staff_page)
    form = await (await client.get(f"{staff_page}/timetable/bulk")).text()
    fields = {"csrf_token": csrf_of(form), "from": "2025-02-15", "to": "2025-02-23"}
    html = await (await client.post(f"{staff_page}/timetable/bulk", data=fields)).text()
    assert "Booked 0 lessons; skipped 0." in html
    assert "The school is shut on some of these days" in html
    assert "February half term: Mon 17 to Fri 21 Feb" in html
    assert await count(client, Booking) == 0


async def test_staff_choose_which_of_the_pupils_robots_a_booking_uses(client, org, staff_page):
    await imported(client, staff_page)
    second = await add_device(
        client.app[DATABASE], org, serial="RB-0002", name="Robin", pupil_id=org.pupil.id
    )
    html = await (await client.get(f"{staff_page}/timetable?week=2025-01-08")).text()
    assert '<label for="robot">Book with robot</label>' in html
    html = await (
        await client.get(f"{staff_page}/timetable?week=2025-01-08&robot={second.id}")
    ).text()
    assert f'name="classroom_device_id" value="{second.id}"' in html
    lesson_id = re.search(
        r'name="lesson_id" value="(\w+)">\s*<input type="hidden" name="date" value="2025-01-06"',
        html,
    )
    assert lesson_id
    form = {
        "csrf_token": csrf_of(html),
        "lesson_id": lesson_id.group(1),
        "date": "2025-01-06",
        "week": "2025-01-06",
        "classroom_device_id": second.id,
    }
    booked = await client.post(f"{staff_page}/timetable/book", data=form, allow_redirects=False)
    assert booked.status == 303
    assert f"robot={second.id}" in booked.headers["Location"]
    async with client.app[DATABASE].sessions() as session:
        booking = await session.scalar(select(Booking))
        assert booking is not None
        assert booking.classroom_device_id == second.id
    form = await (await client.get(f"{staff_page}/timetable/bulk")).text()
    assert '<select id="classroom_device_id" name="classroom_device_id">' in form


async def test_too_unwell_on_another_day_cancels_that_days_bookings_in_the_page(client, staff_page):
    await imported(client, staff_page)
    html = await (await client.get(f"{staff_page}/timetable?week=2025-01-15")).text()
    lesson = re.search(
        r'name="lesson_id" value="(\w+)">\s*<input type="hidden" name="date" value="2025-01-15"',
        html,
    )
    assert lesson
    form = {"csrf_token": csrf_of(html), "lesson_id": lesson.group(1), "date": "2025-01-15"}
    booked = await client.post(f"{staff_page}/timetable/book", data=form, allow_redirects=False)
    assert booked.status == 303
    page = await (await client.get(f"{staff_page}/unavailability")).text()
    once = {
        "csrf_token": csrf_of(page),
        "kind": "once",
        "reason": "too unwell",
        "starts": "2025-01-15T08:00",
        "ends": "2025-01-15T16:00",
    }
    added = await client.post(f"{staff_page}/unavailability", data=once)
    assert "bookings in that time are cancelled" in await added.text()
    async with client.app[DATABASE].sessions() as session:
        row = await session.scalar(select(Booking))
        assert row is not None
        assert (row.status, row.cancel_reason) == ("cancelled", "unavailable: too unwell")
