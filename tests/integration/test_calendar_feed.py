"""The iCalendar feed of a pupil's bookings: secret URL, hashed token, revocable at once."""

from __future__ import annotations

import re

from factories import add_booking, add_device
from icalendar import Calendar
from integration.test_pages import csrf_of, sign_in
from sqlalchemy import select, update

from scheduler.bookings.models import Booking, CalendarFeed
from telepresence.platform.http.context import DATABASE


async def create_feed(client, pupil_id: str) -> str:
    page = await (await client.get(f"/pupils/{pupil_id}")).text()
    assert f'action="/pupils/{pupil_id}/calendar-feed"' in page
    resp = await client.post(
        f"/pupils/{pupil_id}/calendar-feed", data={"csrf_token": csrf_of(page)}
    )
    assert resp.status == 200
    found = re.search(
        r'id="feed-url" readonly value="http://[^/]+(/feeds/pupils/[^"]+\.ics)"', await resp.text()
    )
    assert found, "the new feed's URL is shown once"
    return found.group(1)


async def test_staff_create_a_feed_that_lists_bookings_in_utc(client, org):
    robot = await add_device(client.app[DATABASE], org, pupil_id=org.pupil.id)
    booking_id = await add_booking(client.app[DATABASE], org, robot.id)
    await add_booking(client.app[DATABASE], org, robot.id, status="cancelled")
    async with client.app[DATABASE].transaction() as session:
        await session.execute(
            update(Booking)
            .where(Booking.id == booking_id)
            .values(subject='=HYPERLINK("http://evil")', room="Lab 1\r\nBEGIN:VEVENT")
        )
    await sign_in(client, org.email("hospital_staff"))
    path = await create_feed(client, org.pupil.id)
    client.session.cookie_jar.clear()  # the feed needs no sign-in, only the secret URL

    resp = await client.get(path)
    assert resp.status == 200
    assert resp.content_type == "text/calendar"
    calendar = Calendar.from_ical(await resp.read())
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1, "cancelled bookings are not in the feed"
    event = events[0]
    assert str(event["uid"]) == f"{booking_id}@classbridge"
    assert event.decoded("dtstart").utcoffset().total_seconds() == 0
    assert str(event["summary"]).startswith("'="), "formula injection is neutralised"
    assert "BEGIN:VEVENT" in str(event["location"]), "kept as text, never a new event"
    assert str(calendar["x-wr-calname"]) == "Sam K.'s lessons"

    async with client.app[DATABASE].sessions() as session:
        feed = await session.scalar(select(CalendarFeed))
        assert feed is not None
        token = path.rsplit("/", 1)[1].removesuffix(".ics")
        assert token not in (feed.token_hash, feed.id), "the token is stored hashed"
        assert feed.last_used_at is not None


async def test_revoking_or_replacing_a_feed_answers_404_at_once(client, org):
    await sign_in(client, org.email("hospital_staff"))
    first = await create_feed(client, org.pupil.id)
    assert (await client.get(first)).status == 200
    second = await create_feed(client, org.pupil.id)
    assert (await client.get(first)).status == 404, "a new address revokes the old"
    assert (await client.get(second)).status == 200

    page = await (await client.get(f"/pupils/{org.pupil.id}/calendar-feed")).text()
    assert "A feed is live since" in page
    revoked = await client.post(
        f"/pupils/{org.pupil.id}/calendar-feed/revoke", data={"csrf_token": csrf_of(page)}
    )
    assert revoked.status == 200
    assert "The feed is revoked." in await revoked.text()
    assert (await client.get(second)).status == 404
    assert (await client.get("/feeds/pupils/not-a-real-token-at-all-xyz.ics")).status == 404
    assert (await client.get("/feeds/pupils/x.ics")).status == 404


async def test_coordinators_cannot_create_feeds(client, org):
    await sign_in(client, org.email("coordinator"))
    page = await (await client.get(f"/pupils/{org.pupil.id}/calendar-feed")).text()
    assert "No feed is live." in page
    assert "Create a feed address" not in page
    resp = await client.post(
        f"/pupils/{org.pupil.id}/calendar-feed", data={"csrf_token": csrf_of(page)}
    )
    assert resp.status == 403
