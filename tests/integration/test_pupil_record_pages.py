"""Staff change a pupil's record in the pages (issue 16): details, off roll after a summary,
back on roll, deleting a record made by mistake, and editing or removing unavailability."""

from __future__ import annotations

import re
from datetime import timedelta

from factories import PASSWORD, add_booking, add_device
from sqlalchemy import select

from device_registry.models import Device
from scheduler.bookings.models import Booking, CalendarFeed, UnavailabilityRow
from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import AuditEntry, Pupil, School, zone_of


async def sign_in(client, email: str) -> str:
    client.session.cookie_jar.clear()
    resp = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "next": ""}, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    return csrf_of(await (await client.get("/pupils")).text())


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def test_staff_edit_a_pupils_details(client, org):
    csrf = await sign_in(client, org.email("hospital_staff"))
    page = await (await client.get(f"/pupils/{org.pupil.id}")).text()
    assert 'action="/pupils/' + org.pupil.id + '/details"' in page
    resp = await client.post(
        f"/pupils/{org.pupil.id}/details",
        data={
            "csrf_token": csrf,
            "first_name": "Samuel",
            "last_name": "Kowalski",
            "year_group": "Year 10",
            "key_worker_id": "",
            "parent_consent": "on",
        },
        allow_redirects=False,
    )
    assert resp.status == 303
    shown = await (await client.get(resp.headers["Location"])).text()
    assert (
        "The pupil&#39;s details are saved." in shown or "The pupil's details are saved." in shown
    )
    assert "<h1>Samuel Kowalski" in shown
    async with client.app[DATABASE].sessions() as session:
        pupil = await session.get(Pupil, org.pupil.id)
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "pupil.update"))
    assert (pupil.first_name, pupil.year_group, pupil.key_worker_id) == ("Samuel", "Year 10", None)
    assert (pupil.parent_consent, pupil.class_informed) == (True, False)
    assert entry is not None
    assert entry.subject_id == org.pupil.id


async def test_an_empty_name_is_refused_and_changes_nothing(client, org):
    csrf = await sign_in(client, org.email("admin"))
    resp = await client.post(
        f"/pupils/{org.pupil.id}/details",
        data={"csrf_token": csrf, "first_name": "", "last_name": "K"},
        allow_redirects=False,
    )
    assert resp.status == 422
    assert "First name" in await resp.text()
    async with client.app[DATABASE].sessions() as session:
        assert (await session.get(Pupil, org.pupil.id)).first_name == "Sam"


async def test_a_coordinator_reads_but_cannot_edit_a_pupil(client, org):
    csrf = await sign_in(client, org.email("coordinator"))
    page = await (await client.get(f"/pupils/{org.pupil.id}")).text()
    assert "/details" not in page
    assert "off-roll" not in page
    resp = await client.post(
        f"/pupils/{org.pupil.id}/details",
        data={"csrf_token": csrf, "first_name": "X", "last_name": "Y"},
        allow_redirects=False,
    )
    assert resp.status == 403


async def test_taking_a_pupil_off_roll_shows_what_changes_then_does_it(client, org):
    robot = await add_device(client.app[DATABASE], org, pupil_id=org.pupil.id)
    ahead = await add_booking(client.app[DATABASE], org, robot.id, starts_in=timedelta(days=1))
    now_on = await add_booking(
        client.app[DATABASE], org, robot.id, starts_in=timedelta(minutes=-10)
    )
    pupil_login = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": "4826"}
    )
    tablet = {"Authorization": f"Bearer {(await pupil_login.json())['token']}"}
    assert (await client.get("/api/engagement/me", headers=tablet)).status == 200
    csrf = await sign_in(client, org.email("hospital_staff"))

    summary = await client.get(f"/pupils/{org.pupil.id}/off-roll")
    assert summary.status == 200
    html = await summary.text()
    assert "Bookings cancelled: 1" in html
    assert "Devices released: 1" in html
    assert "Robbie" in html
    assert "under way now (Maths): it is left to end" in html
    assert "Europe/London" in html
    async with client.app[DATABASE].sessions() as session:
        assert (await session.get(Pupil, org.pupil.id)).active  # looking changed nothing

    done = await client.post(
        f"/pupils/{org.pupil.id}/off-roll", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert done.status == 303
    shown = await (await client.get(done.headers["Location"])).text()
    assert "Taken off roll: 1 booking cancelled, 1 device released" in shown
    none = await client.get(f"/pupils/{org.pupil.id}?notice=off-roll&cancelled=0&released=2")
    assert "Taken off roll: no bookings cancelled, 2 devices released" in await none.text()
    assert "Off roll" in shown
    async with client.app[DATABASE].sessions() as session:
        pupil = await session.get(Pupil, org.pupil.id)
        cancelled = await session.get(Booking, ahead)
        running = await session.get(Booking, now_on)
        device = await session.get(Device, robot.id)
    assert pupil.active is False
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "pupil taken off roll")
    assert running.status == "booked"
    assert device.pupil_id is None
    assert (await client.get("/api/engagement/me", headers=tablet)).status == 401
    again = await client.post(
        f"/pupils/{org.pupil.id}/off-roll", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert again.status == 409

    back = await client.post(
        f"/pupils/{org.pupil.id}/on-roll", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert back.status == 303
    async with client.app[DATABASE].sessions() as session:
        assert (await session.get(Pupil, org.pupil.id)).active is True


async def test_a_record_with_lessons_cannot_be_deleted_but_one_made_by_mistake_can(client, org):
    robot = await add_device(client.app[DATABASE], org)
    await add_booking(client.app[DATABASE], org, robot.id, starts_in=timedelta(days=-3))
    csrf = await sign_in(client, org.email("admin"))
    assert (
        "Delete the record"
        not in await (await client.get(f"/pupils/{org.pupil.id}/off-roll")).text()
    )
    kept = await client.post(
        f"/pupils/{org.pupil.id}/delete", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert kept.status == 409
    added = await client.post(
        "/pupils",
        data={
            "csrf_token": csrf,
            "first_name": "Mistake",
            "last_name": "Entry",
            "school_id": org.school_id,
        },
        allow_redirects=False,
    )
    new_id = added.headers["Location"].rsplit("/", 1)[1]
    assert "Delete the record" in await (await client.get(f"/pupils/{new_id}/off-roll")).text()
    gone = await client.post(
        f"/pupils/{new_id}/delete", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert gone.status == 303
    assert "The record is deleted." in await (await client.get(gone.headers["Location"])).text()
    async with client.app[DATABASE].sessions() as session:
        assert await session.get(Pupil, new_id) is None
        assert await session.get(Pupil, org.pupil.id) is not None


async def test_staff_edit_and_remove_unavailability_entries(client, org):
    csrf = await sign_in(client, org.email("hospital_staff"))
    base = f"/pupils/{org.pupil.id}/unavailability"
    weekly = {
        "csrf_token": csrf,
        "kind": "weekly",
        "reason": "dialysis",
        "start": "09:00",
        "end": "11:00",
    }
    resp = await client.post(base, data=[*weekly.items(), ("weekday", "0"), ("weekday", "2")])
    assert resp.status == 200
    once = {
        "csrf_token": csrf,
        "kind": "once",
        "reason": "scan",
        "starts": "2030-03-04T10:00",
        "ends": "2030-03-04T11:30",
    }
    assert (await client.post(base, data=once)).status == 200
    async with client.app[DATABASE].sessions() as session:
        rows = {r.reason: r for r in await session.scalars(select(UnavailabilityRow))}
    page = await (await client.get(base)).text()
    assert f'action="{base}/{rows["dialysis"].id}"' in page
    assert 'value="2030-03-04T10:00"' in page  # the one-off entry in the school's local time

    changed = await client.post(
        f"{base}/{rows['dialysis'].id}",
        data=[
            *(
                weekly | {"reason": "dialysis (new times)", "start": "13:00", "end": "15:00"}
            ).items(),
            ("weekday", "4"),
        ],
        allow_redirects=False,
    )
    assert changed.status == 303
    assert (
        "The unavailability is changed"
        in await (await client.get(changed.headers["Location"])).text()
    )
    bad = await client.post(
        f"{base}/{rows['scan'].id}",
        data=once | {"ends": "2030-03-04T09:00"},
        allow_redirects=False,
    )
    assert bad.status == 422
    removed = await client.post(
        f"{base}/{rows['scan'].id}/delete", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert removed.status == 303
    missing = await client.post(
        f"{base}/{rows['scan'].id}/delete", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert missing.status == 404
    async with client.app[DATABASE].sessions() as session:
        left = list(await session.scalars(select(UnavailabilityRow)))
    assert [(r.reason, r.weekdays, f"{r.start_time:%H:%M}") for r in left] == [
        ("dialysis (new times)", [4], "13:00")
    ]


async def test_the_api_previews_and_takes_a_pupil_off_roll(client, org, login):
    robot = await add_device(client.app[DATABASE], org, pupil_id=org.pupil.id)
    await add_booking(client.app[DATABASE], org, robot.id, starts_in=timedelta(days=2))
    staff = await login("hospital_staff")
    csrf = await sign_in(client, org.email("hospital_staff"))
    made = await client.post(f"/pupils/{org.pupil.id}/calendar-feed", data={"csrf_token": csrf})
    feed_url = re.search(r"(/feeds/pupils/[\w-]+\.ics)", await made.text())
    assert feed_url is not None
    assert (await client.get(feed_url.group(1))).status == 200
    path = f"/api/pupils/{org.pupil.id}/off-roll"
    preview = await (await client.get(path, headers=staff)).json()
    assert preview["on_roll"] is True
    assert [b["subject"] for b in preview["cancelled_bookings"]] == ["Maths"]
    assert [d["name"] for d in preview["released_devices"]] == ["Robbie"]
    done = await client.post(path, headers=staff)
    assert done.status == 200, await done.text()
    assert (await done.json())["on_roll"] is False
    assert (await client.get(feed_url.group(1))).status in {404, 410}  # calendars stop updating
    async with client.app[DATABASE].sessions() as session:
        feeds = list(await session.scalars(select(CalendarFeed)))
    assert [f.revoked_at is not None for f in feeds] == [True]
    assert (await client.post(path, headers=staff)).status == 409
    coordinator = await login("coordinator")
    assert (await client.get(path, headers=coordinator)).status == 403


async def test_the_api_changes_and_removes_unavailability(client, org, login):
    staff = await login("hospital_staff")
    base = f"/api/pupils/{org.pupil.id}/unavailability"
    weekly = {"reason": "dialysis", "weekdays": [0], "start": "09:00", "end": "11:00"}
    created = await client.post(base, json=weekly, headers=staff)
    assert created.status == 201, await created.text()
    entry = (await created.json())["id"]
    changed = await client.put(
        f"{base}/{entry}",
        json=weekly | {"weekdays": [2, 4], "reason": "dialysis (moved)"},
        headers=staff,
    )
    assert changed.status == 200, await changed.text()
    assert (await changed.json())["reason"] == "dialysis (moved)"
    assert (await client.delete(f"{base}/{entry}", headers=staff)).status == 204
    assert (await client.delete(f"{base}/{entry}", headers=staff)).status == 404
    assert await (await client.get(base, headers=staff)).json() == []


async def test_changing_an_entry_to_cover_a_booked_lesson_cancels_that_booking(client, org, login):
    from zoneinfo import ZoneInfo

    robot = await add_device(client.app[DATABASE], org)
    booking_id = await add_booking(client.app[DATABASE], org, robot.id, starts_in=timedelta(days=1))
    async with client.app[DATABASE].sessions() as session:
        booking = await session.get(Booking, booking_id)
    local = booking.starts_at.astimezone(ZoneInfo("Europe/London"))
    other_day = (local.weekday() + 3) % 7
    staff = await login("hospital_staff")
    base = f"/api/pupils/{org.pupil.id}/unavailability"
    weekly = {"reason": "physio", "weekdays": [other_day], "start": "00:00", "end": "23:59"}
    created = await client.post(base, json=weekly, headers=staff)
    assert (await created.json())["cancelled_bookings"] == 0
    entry = (await created.json())["id"]
    changed = await client.put(
        f"{base}/{entry}", json=weekly | {"weekdays": [local.weekday()]}, headers=staff
    )
    assert changed.status == 200
    assert (await changed.json())["cancelled_bookings"] == 1
    async with client.app[DATABASE].sessions() as session:
        after = await session.get(Booking, booking_id)
        audited = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.details)
                .where(AuditEntry.action.in_(("unavailability.add", "unavailability.change")))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert (after.status, after.cancel_reason) == ("cancelled", "unavailable: physio")
    # As the page records them (test_unavailability_forms_are_audited_and_keep_what_was_posted).
    assert [tuple(a) for a in audited] == [
        ("unavailability.add", {"cancelled": []}),
        ("unavailability.change", {"entry": entry, "cancelled": [booking_id]}),
    ]


async def test_saving_details_keeps_a_key_worker_whose_account_was_deactivated(client, org, login):
    admin = await login("admin")
    key_worker = org.users["hospital_staff"].id
    assert (await client.post(f"/api/users/{key_worker}/deactivate", headers=admin)).status == 204
    csrf = await sign_in(client, org.email("admin"))
    page = await (await client.get(f"/pupils/{org.pupil.id}")).text()
    assert f'<option value="{key_worker}" selected>' in page
    resp = await client.post(
        f"/pupils/{org.pupil.id}/details",
        data={
            "csrf_token": csrf,
            "first_name": "Sam",
            "last_name": "Kowalski",
            "key_worker_id": key_worker,
        },
        allow_redirects=False,
    )
    assert resp.status == 303
    async with client.app[DATABASE].sessions() as session:
        assert (await session.get(Pupil, org.pupil.id)).key_worker_id == key_worker


async def test_unavailability_forms_are_audited_and_keep_what_was_posted(client, org):
    """Adding and changing an entry are audited with the bookings each cancels, and say so
    in the notice; a refused change reopens that entry's form with what was posted, a
    refused add fills the add form."""
    database = client.app[DATABASE]
    robot = await add_device(database, org, pupil_id=org.pupil.id)
    booking_id = await add_booking(database, org, robot.id, starts_in=timedelta(days=2))
    csrf = await sign_in(client, org.email("hospital_staff"))
    base = f"/pupils/{org.pupil.id}/unavailability"
    scan = {
        "csrf_token": csrf,
        "kind": "once",
        "reason": "scan",
        "starts": "2030-03-04T10:00",
        "ends": "2030-03-04T11:30",
    }
    added = await client.post(base, data=scan, allow_redirects=False)
    assert (added.status, added.headers["Location"]) == (303, f"{base}?notice=added")
    async with database.sessions() as session:
        entry = await session.scalar(select(UnavailabilityRow))
        booking = await session.get(Booking, booking_id)
        school = await session.get(School, org.school_id)
    assert entry is not None
    assert booking is not None
    local = booking.starts_at.astimezone(zone_of(school))
    over_the_lesson = {
        "starts": f"{local - timedelta(hours=1):%Y-%m-%dT%H:%M}",
        "ends": f"{local + timedelta(hours=2):%Y-%m-%dT%H:%M}",
    }
    changed = await client.post(
        f"{base}/{entry.id}", data=scan | over_the_lesson, allow_redirects=False
    )
    assert (changed.status, changed.headers["Location"]) == (
        303,
        f"{base}?notice=changed-cancelled",
    )
    async with database.sessions() as session:
        audited = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.details)
                .where(AuditEntry.action.startswith("unavailability."))
                .where(AuditEntry.action != "unavailability.read")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [tuple(a) for a in audited] == [
        ("unavailability.add", {"cancelled": []}),
        ("unavailability.change", {"entry": entry.id, "cancelled": [booking_id]}),
    ]

    refused = await client.post(
        f"{base}/{entry.id}",
        data=scan | {"reason": "scan (moved)", "ends": "2030-03-04T09:00"},
    )
    assert refused.status == 422
    page = await refused.text()
    assert '<details class="edit" open>' in page
    assert 'value="scan (moved)"' in page
    assert 'value="2030-03-04T09:00"' in page
    weekly = {"csrf_token": csrf, "kind": "weekly", "reason": "physio"}
    refused = await client.post(
        base, data=[*(weekly | {"start": "11:00", "end": "10:00"}).items(), ("weekday", "3")]
    )
    assert refused.status == 422
    page = await refused.text()
    assert '<details class="edit" open>' not in page
    assert 'id="weekly-reason" name="reason" required maxlength="200" value="physio"' in page
    assert 'value="3" checked' in page
