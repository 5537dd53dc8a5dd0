"""The engagement dashboard, a pupil's engagement page and the home-school report (HTML and
PDF), on each database: real outcomes computed from session timelines, scoping, audit, bad
ranges, notes shared with the home school."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

from factories import add_device, add_user
from integration.engagement_helpers import past_lesson, past_weekdays
from pypdf import PdfReader
from sqlalchemy import func, select

from telepresence.engagement.jobs import compute_finished_outcomes, nightly_engagement
from telepresence.engagement.models import SharedNoteRow
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.platform.models import AuditEntry, Pupil


async def _seed(client, org) -> None:
    """Sam: Maths attended, Science partly, then three misses in a row (an alert)."""
    database = client.app[DATABASE]
    robot = await add_device(database, org, pupil_id=org.pupil.id, name="Robot Ada")
    d = past_weekdays(5)
    await past_lesson(database, org, robot.id, d[0], present=[(0, 55)])
    await past_lesson(database, org, robot.id, d[1], subject="Science", present=[(0, 20)])
    await past_lesson(database, org, robot.id, d[2], failed_move=True)
    await past_lesson(database, org, robot.id, d[3], subject="Science")
    await past_lesson(database, org, robot.id, d[4])
    await compute_finished_outcomes(client.app[JOBS].context)
    await nightly_engagement(client.app[JOBS].context, force=True)


async def _audits(client, action: str) -> int:
    async with client.app[DATABASE].sessions() as db:
        query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        return int(await db.scalar(query) or 0)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_the_dashboard_shows_who_is_drifting_and_why(client, org, login):
    await _seed(client, org)
    resp = await client.get("/engagement", headers=await login("coordinator"))
    assert resp.status == 200
    html = await resp.text()
    text = _text(html)
    # The alert, in the rule's words, before everything else, linking to the pupil and alert.
    assert "Who is drifting" in text
    assert "Missed the last 3 booked lessons." in text
    assert f'href="/engagement/pupils/{org.pupil.id}?period=4w' in html
    assert re.search(r'href="/engagement/alerts/\w+"', html)
    # Totals: 5 booked, 2 joined; (55 + 20) / 300 minutes = 25 %.
    assert re.search(r'<div class="stat">5</div><div class="hint">lessons booked', html)
    assert re.search(r'<div class="stat">25%</div>', html)
    # Charts are SVG with words for screen readers, and a figures table.
    # The sparkline and the subjects are images; the weeks, the moves and the robots link.
    assert len(re.findall(r'<svg[^>]*role="img"', html)) == 2
    assert len(re.findall(r'<svg[^>]*role="group"', html)) == 3
    assert "<title" in html
    assert "<desc" in html
    assert "Maths: 1 attended, 0 partial, 2 missed, 0 cancelled" in html
    assert "Science: 0 attended, 1 partial, 1 missed, 0 cancelled" in html
    assert "Robot Ada" in text
    assert "Robot utilisation" in html
    assert "Share of booked time attended per week, week by week:" in html
    assert await _audits(client, "engagement.dashboard") == 1
    # Sam's sparkline says each week's share as the pupil's own figures do (API, same range).
    today = datetime.now(UTC).date()
    start = today - timedelta(days=today.weekday(), weeks=3)  # "the last 4 weeks": whole weeks
    api = await client.get(
        f"/api/engagement/pupils/{org.pupil.id}?start={start}&end={today}",
        headers=await login("coordinator"),
    )
    shares = {w["key"]: w["share"] for w in (await api.json())["weeks"]}
    monday, words = start - timedelta(days=start.weekday()), []
    while monday <= today:
        share = shares.get(monday.isoformat())
        words.append("no lessons" if share is None else f"{round(share * 100)}%")
        monday += timedelta(weeks=1)
    assert f"Weekly share attended: {', '.join(words)}." in html
    assert any(w != "no lessons" for w in words)
    # The nurse who is not the key worker sees no pupil; the key worker sees Sam.
    async with client.app[DATABASE].transaction() as db:
        await add_user(db, "hospital_staff", org.provider_id, email="nurse@test.example")
    other = await (
        await client.get("/engagement", headers=await login("nurse@test.example"))
    ).text()
    assert "Sam Kowalski" not in other
    mine = await (await client.get("/engagement", headers=await login("hospital_staff"))).text()
    assert "Sam Kowalski" in mine


async def _second_pupil(client, org, provider_id: str | None = None) -> str:
    """Noa, another pupil (of the org's provider unless told), with no key worker: two
    lessons, one attended."""
    async with client.app[DATABASE].transaction() as db:
        noa = Pupil(
            provider_id=provider_id or org.provider_id,
            school_id=org.school_id,
            first_name="Noa",
            last_name="Adeyemi",
            pupil_code="NOAA11",
            created_at=datetime.now(UTC),
        )
        db.add(noa)
        await db.flush()
        noa_id = noa.id
    robot = await add_device(client.app[DATABASE], org, pupil_id=noa_id, serial="R-NOA")
    d = past_weekdays(2)
    await past_lesson(client.app[DATABASE], org, robot.id, d[0], pupil_id=noa_id, present=[(0, 60)])
    await past_lesson(client.app[DATABASE], org, robot.id, d[1], pupil_id=noa_id, hour=12)
    await compute_finished_outcomes(client.app[JOBS].context)
    return noa_id


def _options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select id="f-{name}" name="{name}">(.*?)</select>', html, re.S)
    assert select is not None, name
    return re.findall(r"<option[^>]*>([^<]*)</option>", select.group(1))


async def test_the_dashboard_filters_by_pupil_among_those_you_may_see(client, org, login):
    await _seed(client, org)
    noa_id = await _second_pupil(client, org)
    coord = await login("coordinator")
    everyone = await (await client.get("/engagement", headers=coord)).text()
    assert _options(everyone, "pupil") == ["All pupils", "Noa Adeyemi", "Sam Kowalski"]
    assert re.search(r'<div class="stat">7</div><div class="hint">lessons booked', everyone)
    html = await (await client.get(f"/engagement?pupil={noa_id}", headers=coord)).text()
    text = _text(html)
    assert f'<option value="{noa_id}" selected>Noa Adeyemi</option>' in html
    # Only Noa's figures: 2 booked, 1 joined, 60 of 120 minutes; not Sam's row nor alert.
    assert re.search(r'<div class="stat">2</div><div class="hint">lessons booked', html)
    assert re.search(r'<div class="stat">50%</div>', html)
    assert "Noa Adeyemi" in text.split("Pupils")[-1]
    assert f'href="/engagement/pupils/{org.pupil.id}' not in html
    assert "Missed the last 3 booked lessons." not in text
    assert f"pupil_id={noa_id}" in html  # the downloads are Noa's too
    async with client.app[DATABASE].sessions() as db:
        audit = await db.scalar(
            select(AuditEntry).where(AuditEntry.action == "engagement.dashboard")
            .order_by(AuditEntry.at.desc()).limit(1)
        )  # fmt: skip
    assert audit is not None
    assert audit.details["pupil_id"] == noa_id
    # Sam's key worker sees only Sam in the list, and Noa is "not found" for them.
    staff = await login("hospital_staff")
    theirs = await (await client.get("/engagement", headers=staff)).text()
    assert _options(theirs, "pupil") == ["All pupils", "Sam Kowalski"]
    refused = await client.get(f"/engagement?pupil={noa_id}", headers=staff)
    assert refused.status == 404
    assert "Adeyemi" not in await refused.text()


async def test_a_pupil_of_another_provider_is_not_a_filter(client, org, login):
    stranger = await _second_pupil(client, org, provider_id=org.other_provider_id)
    coord = await login("coordinator")
    before = await _audits(client, "engagement.dashboard")
    for query in (f"?pupil={stranger}", "?pupil=nope", "?pupil=" + "x" * 200):
        resp = await client.get("/engagement" + query, headers=coord)
        assert resp.status == 404, query
        assert "Adeyemi" not in await resp.text()
    assert await _audits(client, "engagement.dashboard") == before
    html = await (await client.get("/engagement", headers=coord)).text()
    assert _options(html, "pupil") == ["All pupils", "Sam Kowalski"]


async def test_bad_ranges_and_wrong_callers_are_refused_and_leave_no_audit(client, org, login):
    await _seed(client, org)
    coord = await login("coordinator")
    for query in (
        "?period=custom&start=2026-03-10&end=2026-03-01",
        "?period=custom&start=2020-01-01&end=2026-03-01",
        "?period=custom&start=yesterday",
        "?period=fortnight",
    ):
        for url in ("/engagement", f"/engagement/pupils/{org.pupil.id}"):
            resp = await client.get(url + query, headers=coord)
            assert resp.status == 422, (url, query)
            assert "That period cannot be shown" in await resp.text()
        report = f"/engagement/pupils/{org.pupil.id}/report"
        assert (await client.get(report + query, headers=coord)).status == 422
        assert (await client.get(report + ".pdf" + query, headers=coord)).status == 422
    assert (await client.get("/engagement?school=nope", headers=coord)).status == 404
    for action in ("engagement.dashboard", "engagement.read", "engagement.report"):
        assert await _audits(client, action) == 0
    assistant = await login("assistant")
    for url in ("/engagement", f"/engagement/pupils/{org.pupil.id}/report.pdf"):
        assert (await client.get(url, headers=assistant)).status == 403
    other = await login("other_admin")
    for suffix in ("", "/report", "/report.pdf"):
        resp = await client.get(f"/engagement/pupils/{org.pupil.id}{suffix}", headers=other)
        assert resp.status == 404
        assert "Kowalski" not in await resp.text()
    note = {"text": "Lovely week", "shared": "on"}
    refused = await client.post(
        f"/engagement/pupils/{org.pupil.id}/notes", data=note, headers=other
    )
    assert refused.status == 404
    async with client.app[DATABASE].sessions() as db:
        assert await db.scalar(select(func.count()).select_from(SharedNoteRow)) == 0


async def test_the_pupils_page_says_what_each_lesson_gave_them(client, org, login):
    await _seed(client, org)
    resp = await client.get(
        f"/engagement/pupils/{org.pupil.id}", headers=await login("hospital_staff")
    )
    assert resp.status == 200
    text = _text(await resp.text())
    for words in ("Attended 55 of 60 min", "Partly attended: 20 of 60 min",
                  "Missed: robot not moved", "Acknowledge or resolve"):  # fmt: skip
        assert words in text
    assert await _audits(client, "engagement.read") == 1


async def test_a_subjects_bar_opens_its_lessons(client, org, login):
    await _seed(client, org)
    staff = await login("hospital_staff")
    url = f"/engagement/pupils/{org.pupil.id}"
    html = await (await client.get(url, headers=staff)).text()
    science = re.search(r'<a href="([^"]*subject=Science#lessons-h)"', html)
    assert science is not None  # the bar (and the table's row) link to the subject's lessons
    page = await client.get(science.group(1).replace("&amp;", "&"), headers=staff)
    assert page.status == 200
    body = await page.text()
    text = _text(body)
    lessons = text.split("Lesson by lesson: Science")[1]
    assert "Partly attended: 20 of 60 min" in lessons
    assert "Attended 55 of 60 min" not in lessons  # Maths
    assert lessons.count("Science") == 2
    assert '<div class="stat">2 of 5</div>' in body  # the totals stay the whole period's
    odd = await client.get(url + "?subject=%3DHYPERLINK(%22x%22)%20%26", headers=staff)
    assert odd.status == 200
    assert "No finished lessons in this period." in _text(await odd.text())


async def test_the_home_school_report_as_page_and_pdf_with_shared_notes(client, org, login):
    await _seed(client, org)
    staff = await login("hospital_staff")
    url = f"/engagement/pupils/{org.pupil.id}"
    shared = {"text": "Sam asked to present in Science.", "shared": "on", "period": "term"}
    added = await client.post(url + "/notes", data=shared, headers=staff, allow_redirects=False)
    assert added.status == 303
    assert added.headers["Location"] == f"{url}/report?period=term"
    private = {"text": "Mum mentioned a new treatment."}
    await client.post(url + "/notes", data=private, headers=staff, allow_redirects=False)
    empty = await client.post(url + "/notes", data={"text": "  "}, headers=staff)
    assert empty.status == 422
    html = await (await client.get(url + "/report?period=4w", headers=staff)).text()
    text = _text(html)
    assert "Joined 2 of 5 booked lessons" in text
    assert "Sam asked to present in Science." in text
    report_part = text.split("Add a note")[0]
    assert "Mum mentioned" not in report_part  # not shared: staff only, below the form
    pdf = await client.get(url + "/report.pdf?period=4w", headers=staff)
    assert pdf.status == 200
    assert pdf.content_type == "application/pdf"
    assert "attachment" in pdf.headers["Content-Disposition"]
    body = await pdf.read()
    assert body.startswith(b"%PDF")
    words = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    for expected in ("Sam Kowalski", "Maths", "Science", "Sam asked to present in Science."):
        assert expected in words
    assert "Mum mentioned" not in words
    assert await _audits(client, "engagement.report") == 1
    assert await _audits(client, "engagement.report_pdf") == 1
    assert await _audits(client, "engagement.note_added") == 2


async def test_a_pupil_with_no_lessons_gets_a_clear_empty_report(client, org, login):
    async with client.app[DATABASE].transaction() as db:
        pupil = await db.get(Pupil, org.pupil.id)
        assert pupil is not None
    coord = await login("coordinator")
    url = f"/engagement/pupils/{org.pupil.id}/report"
    html = await client.get(url, headers=coord)
    assert html.status == 200
    assert "No lessons in this period." in _text(await html.text())
    pdf = await client.get(url + ".pdf", headers=coord)
    assert pdf.status == 200
    text = PdfReader(io.BytesIO(await pdf.read())).pages[0].extract_text()
    assert "No lessons in this period" in text


async def test_the_navigation_counts_unread_notices(client, org, login):
    await _seed(client, org)
    html = await (await client.get("/engagement", headers=await login("coordinator"))).text()
    match = re.search(r'href="/inbox">Inbox <span class="count">.*?(\d+)<', html)
    assert match is not None
    assert int(match.group(1)) >= 1
    assistant = await (await client.get("/inbox", headers=await login("assistant"))).text()
    assert 'href="/inbox" aria-current="page">Inbox</a>' in assistant  # nothing unread
    assert 'href="/engagement"' not in assistant


async def test_calendars_loaded_together_equal_those_loaded_one_by_one(client, org):
    """The dashboard reads every school's calendar at once (``load_calendars``)."""
    from datetime import UTC, date, datetime, time

    from scheduler.timetables.calendar import (
        BellPeriod,
        Closure,
        SchoolCalendar,
        Term,
        WeekCycle,
    )
    from scheduler.timetables.repository import (
        load_calendar,
        load_calendars,
        save_calendar,
        save_period_codes,
    )
    from telepresence.platform.models import School

    calendar = SchoolCalendar(
        terms=(Term("Spring", date(2027, 1, 5), date(2027, 3, 26)),
               Term("Autumn", date(2026, 9, 3), date(2026, 12, 18))),
        closures=(Closure("Half term", date(2026, 10, 26), date(2026, 10, 30)),),
        week_cycle=WeekCycle(date(2026, 9, 7), {date(2026, 11, 2): "A"}),
        bell_times=(BellPeriod("P1", time(9), time(10)), BellPeriod("P2", time(10), time(11))),
        school_weekdays=frozenset({0, 1, 2, 3}),
    )  # fmt: skip
    async with client.app[DATABASE].transaction() as db:
        other = School(
            provider_id=org.provider_id, name="No calendar", created_at=datetime.now(UTC)
        )
        db.add(other)
        await db.flush()
        await save_calendar(db, org.school_id, calendar, by="t", now=datetime.now(UTC))
        await save_period_codes(db, org.school_id, (("p1", "P1"),))
    async with client.app[DATABASE].sessions() as db:
        schools = [await db.get(School, org.school_id), other]
        together = await load_calendars(db, schools)
        one_by_one = {s.id: await load_calendar(db, s) for s in schools}
    assert together == one_by_one
    assert [t.name for t in together[org.school_id].terms] == ["Autumn", "Spring"]
    assert together[other.id].terms == ()
