"""The school calendar page: a new school set up in pages (term dates .ics, check, save)."""

from __future__ import annotations

import re

import aiohttp
from integration import test_timetable_pages
from integration.test_pages import csrf_of, sign_in
from integration.test_timetable_pages import imported
from sqlalchemy import select
from unit.scheduler.timetables.test_calendar_text import TERM_DATES

from scheduler.bookings.models import Booking
from scheduler.timetables.models import ClosureRow, TermRow
from telepresence.platform.http.context import DATABASE

staff_page = test_timetable_pages.staff_page  # the fixture: Spring 2025, staff signed in


def fields_of(html: str) -> dict[str, str]:
    """The calendar form's text fields as the page filled them."""
    found = dict(re.findall(r'<textarea id="\w+" name="(\w+)"[^>]*>([^<]*)</textarea>', html))
    week = re.search(r'name="week_a_monday" value="([^"]*)"', html)
    return found | {"week_a_monday": week.group(1) if week else ""}


async def test_a_new_school_is_set_up_from_its_term_dates_checked_and_saved(
    client, org, staff_page
):
    url = f"/schools/{org.school_id}/calendar"
    html = await (await client.get("/timetables")).text()
    assert f'href="{url}"' in html
    page = await (await client.get(url)).text()
    body = aiohttp.FormData({"csrf_token": csrf_of(page), "action": "ics"} | fields_of(page))
    body.add_field("term_dates", TERM_DATES, filename="terms.ics", content_type="text/calendar")
    read = await client.post(url, data=body)
    html = await read.text()
    assert read.status == 200, html
    fields = fields_of(html) | {"week_a_monday": "2025-09-01"}
    assert fields["terms"] == "Autumn Term, 2025-09-01, 2025-12-19"
    assert "October Half Term, 2025-10-27, 2025-10-31" in fields["closures"]
    assert "Ignored &#39;Harvest festival&#39;" in html
    check = await client.post(url, data={"csrf_token": csrf_of(html), "action": "check"} | fields)
    html = await check.text()
    assert "Week A starts Mon 1 Sep 2025." in html
    async with client.app[DATABASE].sessions() as session:
        assert "Autumn Term" not in {t.name for t in await session.scalars(select(TermRow))}
    saved = await client.post(
        url, data={"csrf_token": csrf_of(html), "action": "save"} | fields, allow_redirects=False
    )
    assert saved.status == 303
    async with client.app[DATABASE].sessions() as session:
        assert [t.name for t in await session.scalars(select(TermRow))] == ["Autumn Term"]
        closures = {c.name for c in await session.scalars(select(ClosureRow))}
        assert closures == {"INSET day", "October Half Term"}
    page = await (await client.get(saved.headers["Location"])).text()
    assert "Calendar saved." in page
    assert 'value="2025-09-01"' in page


async def test_a_bad_line_stays_in_the_page_and_nothing_is_saved(client, org, staff_page):
    url = f"/schools/{org.school_id}/calendar"
    page = await (await client.get(url)).text()
    before = fields_of(page)
    fields = before | {"bell_times": "P1, 08:50, 07:00", "period_codes": "X1 = Mon:P9"}
    bad = await client.post(url, data={"csrf_token": csrf_of(page), "action": "save"} | fields)
    assert bad.status == 422
    html = await bad.text()
    assert "Bell times, line 1" in html
    assert "P1, 08:50, 07:00" in html  # what was typed is kept
    codes = before | {"period_codes": "X1 = Mon:P9"}
    bad = await client.post(url, data={"csrf_token": csrf_of(page), "action": "save"} | codes)
    assert bad.status == 422
    assert "unknown period &#39;P9&#39;" in await bad.text()
    assert fields_of(await (await client.get(url)).text()) == before


async def test_a_new_closure_flags_a_booking_and_says_so(client, org, staff_page):
    await imported(client, staff_page)
    html = await (await client.get(f"{staff_page}/timetable?week=2025-01-08")).text()
    lesson = re.search(
        r'name="lesson_id" value="(\w+)">\s*<input type="hidden" name="date" value="2025-01-08"',
        html,
    )
    assert lesson
    form = {"csrf_token": csrf_of(html), "lesson_id": lesson.group(1), "date": "2025-01-08"}
    booked = await client.post(f"{staff_page}/timetable/book", data=form, allow_redirects=False)
    assert booked.status == 303
    url = f"/schools/{org.school_id}/calendar"
    page = await (await client.get(url)).text()
    fields = fields_of(page)
    fields["closures"] += "\nSnow day, 2025-01-08, 2025-01-08"
    saved = await client.post(url, data={"csrf_token": csrf_of(page), "action": "save"} | fields)
    html = await saved.text()
    assert "1 booking no longer fits and is flagged" in html
    async with client.app[DATABASE].sessions() as session:
        row = await session.scalar(select(Booking))
        assert row is not None
        assert row.flagged_reason


async def test_coordinators_read_the_calendar_but_get_no_form(client, org, staff_page):
    await sign_in(client, org.email("coordinator"))
    html = await (await client.get(f"/schools/{org.school_id}/calendar")).text()
    assert "Week A starts" in html
    assert 'name="action"' not in html
