"""Pages: cookie sessions, CSRF on forms, role start pages, refusals."""

from __future__ import annotations

import re

from factories import PASSWORD, add_device

from telepresence.platform.http.context import DATABASE


async def sign_in(client, email: str) -> str:
    resp = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "next": ""}, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    cookie = resp.cookies["cb_session"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    return resp.headers["Location"]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def test_each_role_lands_on_its_start_page(client, org):
    for role, start, heading in [
        ("admin", "/devices", "Devices"),
        ("coordinator", "/devices", "Devices"),
        ("hospital_staff", "/pupils", "Pupils"),
        ("assistant", "/assistant", "Hello"),
    ]:
        client.session.cookie_jar.clear()
        assert await sign_in(client, org.email(role)) == start
        page = await client.get(start)
        assert page.status == 200
        assert f"<h1>{heading}" in await page.text()


async def test_pupil_signs_in_on_the_tablet_page(client, org):
    resp = await client.post(
        "/pupil-login", data={"pupil_code": "samk42", "pin": "4826"}, allow_redirects=False
    )
    assert resp.headers["Location"] == "/today"
    page = await (await client.get("/today")).text()
    assert "Hi Sam!" in page


async def test_anonymous_visitors_are_sent_to_sign_in(client, org):
    resp = await client.get("/devices?x=1", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/login?next=/devices?x=1"


async def test_a_wrong_role_is_refused(client, org):
    await sign_in(client, org.email("assistant"))
    refused = await client.get("/devices", allow_redirects=False)
    assert refused.status == 403
    assert refused.content_type == "text/html"
    html = await refused.text()
    assert "<h1>Not allowed</h1>" in html
    assert "assistant" in html
    assert (await client.get("/pupils", allow_redirects=False)).status == 403


async def test_forms_need_the_csrf_token(client, org):
    await sign_in(client, org.email("admin"))
    page = await (await client.get("/devices")).text()
    form = {"kind": "robot", "name": "Nova", "serial": "NOVA-0002", "model": "AV1"}
    forged = await client.post("/devices", data=form, allow_redirects=False)
    assert forged.status == 403
    real = await client.post(
        "/devices", data=form | {"csrf_token": csrf_of(page)}, allow_redirects=False
    )
    assert real.status == 303
    assert real.headers["Location"].startswith("/devices?registered=")


async def test_registration_form_errors_are_shown_and_nothing_is_saved(client, org):
    await sign_in(client, org.email("admin"))
    page = await (await client.get("/devices")).text()
    resp = await client.post(
        "/devices",
        data={
            "kind": "robot",
            "name": "",
            "serial": "?",
            "model": "AV1",
            "csrf_token": csrf_of(page),
        },
    )
    assert resp.status == 422
    html = await resp.text()
    assert "There is a problem" in html
    assert "No devices yet." in html


async def test_pairing_code_and_qr_are_shown_on_the_device_page(client, org):
    device = await add_device(client.app[DATABASE], org)
    await sign_in(client, org.email("admin"))
    page = await (await client.get(f"/devices/{device.id}")).text()
    resp = await client.post(
        f"/devices/{device.id}/pairing-code", data={"csrf_token": csrf_of(page)}
    )
    html = await resp.text()
    code = re.search(r'id="pairing-code">([A-Z0-9]{4}-[A-Z0-9]{4})<', html)
    assert code
    assert "<svg" in html
    paired = await client.post("/api/devices/pair", json={"code": code.group(1)})
    assert paired.status == 201


async def test_signing_out_revokes_the_session(client, org):
    await sign_in(client, org.email("coordinator"))
    page = await (await client.get("/devices")).text()
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))["cb_session"].value
    out = await client.post("/logout", data={"csrf_token": csrf_of(page)}, allow_redirects=False)
    assert out.status == 303
    client.session.cookie_jar.update_cookies({"cb_session": cookie})
    again = await client.get("/devices", allow_redirects=False)
    assert again.status == 303  # back to sign-in: the old cookie is dead


async def test_login_from_another_site_is_refused(client, org):
    resp = await client.post(
        "/login",
        data={"email": org.email("admin"), "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert resp.status == 403


async def test_next_never_leaves_the_site(client, org):
    resp = await client.post(
        "/login",
        data={"email": org.email("admin"), "password": PASSWORD, "next": "//evil.example/x"},
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/devices"


async def test_live_fleet_stream_sends_updates_and_ends_at_sign_out(client, org, monkeypatch):
    import asyncio

    import device_registry.pages
    from telepresence.platform.http.context import EVENTS

    monkeypatch.setattr(device_registry.pages, "RECHECK_SECONDS", 0.2)
    await sign_in(client, org.email("admin"))
    page = await (await client.get("/devices")).text()
    stream = await client.get("/devices/events")
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    await asyncio.sleep(0.05)
    client.app[EVENTS].publish(f"fleet:{org.provider_id}", {"device_id": "d1", "online": True})
    lines = [await asyncio.wait_for(stream.content.readline(), 2) for _ in range(2)]
    assert lines[0] == b"event: device\r\n"
    assert b'"online": true' in lines[1]
    await client.post("/logout", data={"csrf_token": csrf_of(page)}, allow_redirects=False)
    rest = await asyncio.wait_for(stream.content.read(), 3)  # ends instead of hanging
    assert b"online" not in rest
    stream.close()


async def test_admin_reads_the_audit_log_page(client, org):
    await sign_in(client, org.email("admin"))
    await client.get(f"/pupils/{org.pupil.id}")
    html = await (await client.get(f"/audit?kind=views&subject_id={org.pupil.id}")).text()
    assert "opened the record of" in html
    assert "Sam K." in html
    client.session.cookie_jar.clear()
    await sign_in(client, org.email("coordinator"))
    assert (await client.get("/audit", allow_redirects=False)).status == 403


async def test_a_pupil_too_unwell_today_cancels_the_rest_of_the_day(client, org, paired):
    from factories import add_booking
    from sqlalchemy import select

    from scheduler.bookings.models import Booking

    robot_id, _ = paired
    booking_id = await add_booking(client.app[DATABASE], org, robot_id)
    await client.post("/pupil-login", data={"pupil_code": "SAMK42", "pin": "4826"})
    page = await (await client.get("/today")).text()
    assert "too unwell" in page
    assert f"/lessons/{booking_id}" in page
    resp = await client.post(
        "/today/unwell", data={"csrf_token": csrf_of(page)}, allow_redirects=False
    )
    assert resp.status == 303
    after = await (await client.get(resp.headers["Location"])).text()
    assert "cancelled 1 lesson for today" in after
    async with client.app[DATABASE].sessions() as db:
        booking = await db.scalar(select(Booking).where(Booking.id == booking_id))
    assert booking is not None
    assert booking.status == "cancelled"


async def test_admin_adds_a_school_and_a_room_from_the_schools_page(client, org):
    await sign_in(client, org.email("admin"))
    page = await (await client.get("/schools")).text()
    resp = await client.post(
        "/schools",
        data={
            "name": "Hillside Primary",
            "time_zone": "Europe/London",
            "csrf_token": csrf_of(page),
        },
        allow_redirects=False,
    )
    assert resp.status == 303
    page = await (await client.get("/schools")).text()
    assert "Hillside Primary" in page
    school_id = resp.headers["Location"].split("#s-")[1]
    room = await client.post(
        f"/schools/{school_id}/rooms",
        allow_redirects=False,
        data={"name": "Class 4", "floor": "1", "csrf_token": csrf_of(page)},
    )
    assert room.status == 303
    clash = await client.post(
        f"/schools/{school_id}/rooms", data={"name": "class 4", "csrf_token": csrf_of(page)}
    )
    assert clash.status == 409
    assert "already has a room" in await clash.text()
    bad = await client.post(
        "/schools", data={"name": "X", "time_zone": "Mars/Base", "csrf_token": csrf_of(page)}
    )
    assert bad.status == 422
    assert "IANA time zone" in await bad.text()
    client.session.cookie_jar.clear()
    await sign_in(client, org.email("coordinator"))
    coordinator_page = await (await client.get("/schools")).text()
    assert "Add a home school" not in coordinator_page
