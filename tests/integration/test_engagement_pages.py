"""The inbox and an alert's page: notices newest first, marking read, acknowledging by form."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from factories import PASSWORD, add_device
from integration.engagement_helpers import past_lesson, past_weekdays
from sqlalchemy import select

from telepresence.engagement.jobs import compute_finished_outcomes, nightly_engagement
from telepresence.engagement.models import AlertRow
from telepresence.notifications.models import Notification
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.platform.models import School


def _found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match.group(1)


async def _sign_in(client, email: str) -> None:
    resp = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "next": ""}, allow_redirects=False
    )
    assert resp.status == 303


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match
    return match.group(1)


async def test_inbox_alert_acknowledge_and_mark_read(client, org):
    database = client.app[DATABASE]
    robot = await add_device(database, org, pupil_id=org.pupil.id)
    for day in past_weekdays(3):
        await past_lesson(database, org, robot.id, day)
    await compute_finished_outcomes(client.app[JOBS].context)
    await nightly_engagement(client.app[JOBS].context, force=True)
    await _sign_in(client, org.email("coordinator"))
    page = await (await client.get("/inbox")).text()
    assert "Open alerts" in page
    assert "Missed the last 3 booked lessons." in page
    unread = int(_found(r"<strong>(\d+) unread</strong>", page))
    assert unread >= 2  # one notice per alert opened for the coordinator
    link = r'href="/engagement/alerts/(\w+)"><strong>Sam Kowalski</strong>: Missed the last 3'
    alert_id = _found(link, page)
    alert_page = await (await client.get(f"/engagement/alerts/{alert_id}")).text()
    assert "missed in a row" in alert_page
    form = {"csrf_token": _csrf(alert_page), "action": "acknowledge", "note": "Rang the ward"}
    done = await client.post(f"/engagement/alerts/{alert_id}", data=form, allow_redirects=False)
    assert done.status == 303
    again = await client.post(f"/engagement/alerts/{alert_id}", data=form)
    assert again.status == 409
    assert "already acknowledged" in await again.text()
    unresolved = form | {"action": "resolve", "note": ""}
    refused = await client.post(f"/engagement/alerts/{alert_id}", data=unresolved)
    assert "Say what was done" in await refused.text()
    notice_id = _found(r'action="/inbox/(\w+)/read"', page)
    read = await client.post(
        f"/inbox/{notice_id}/read", data={"csrf_token": _csrf(page)}, allow_redirects=False
    )
    assert read.headers["Location"] == "/inbox"
    after = await (await client.get("/inbox")).text()
    assert f"<strong>{unread - 1} unread</strong>" in after


async def test_assistants_get_their_inbox_but_no_alerts(client, org):
    await _sign_in(client, org.email("assistant"))
    resp = await client.get("/inbox")
    assert resp.status == 200
    assert "Nothing yet." in await resp.text()
    assert (await client.get("/engagement/alerts/nope", allow_redirects=False)).status == 403


async def test_inbox_and_alert_times_read_in_the_schools_zone_and_name_it(client, org):
    database = client.app[DATABASE]
    async with database.transaction() as db:
        school = await db.get(School, org.school_id)
        assert school is not None
        school.time_zone = "Asia/Kolkata"  # UTC+05:30 all year: a clock that differs from UTC
    robot = await add_device(database, org, pupil_id=org.pupil.id)
    for day in past_weekdays(3):
        await past_lesson(database, org, robot.id, day)
    await compute_finished_outcomes(client.app[JOBS].context)
    await nightly_engagement(client.app[JOBS].context, force=True)
    async with database.sessions() as db:
        notice = await db.scalar(
            select(Notification).where(Notification.user_id == org.users["coordinator"].id)
        )
        alert = await db.scalar(select(AlertRow))
    assert notice is not None
    assert alert is not None
    zone = ZoneInfo("Asia/Kolkata")
    await _sign_in(client, org.email("coordinator"))
    page = await (await client.get("/inbox")).text()
    assert "Times are in Asia/Kolkata." in page
    assert notice.created_at.astimezone(zone).strftime("%d %b %Y %H:%M") in page
    alert_page = await (await client.get(f"/engagement/alerts/{alert.id}")).text()
    opened = alert.opened_at.astimezone(zone).strftime("%d %b %Y %H:%M")
    assert f'{opened}</time> <span class="hint">(Asia/Kolkata)</span>' in alert_page
