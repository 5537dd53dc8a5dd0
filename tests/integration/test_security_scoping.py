"""Security: every read and every id in a request stays inside the caller's provider.

Two providers on one server: the admin of the other provider must learn nothing
about this one, neither from the audit log nor by naming this provider's ids.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from factories import PASSWORD, add_device

from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import Room, School


async def sign_in(client, email: str) -> None:
    resp = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "next": ""}, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()


async def test_the_audit_log_shows_only_the_callers_provider(client, org, login):
    await client.get(f"/api/pupils/{org.pupil.id}", headers=await login("coordinator"))
    mine = await (await client.get("/api/audit", headers=await login("admin"))).json()
    assert any(r["subject_id"] == org.pupil.id for r in mine)
    other = await login("other_admin")
    everything = await (await client.get("/api/audit", headers=other)).json()
    assert [r for r in everything if r["actor_id"] != org.users["other_admin"].id] == []
    by_pupil = await client.get(
        f"/api/audit?subject_type=pupil&subject_id={org.pupil.id}", headers=other
    )
    assert by_pupil.status == 200
    assert await by_pupil.json() == []


async def test_the_audit_page_shows_only_the_callers_provider(client, org, login):
    await client.get(f"/api/pupils/{org.pupil.id}", headers=await login("coordinator"))
    await sign_in(client, org.email("other_admin"))
    html = await (await client.get(f"/audit?subject_id={org.pupil.id}")).text()
    assert "pupil.read" not in html
    # The id may be echoed back in the page's own filter links and form, never in an entry.
    echoed = re.sub(r'(href|value)="[^"]*"', "", html)
    assert org.pupil.id not in echoed
    assert "Sam K" not in html


async def _other_providers_room(client, org) -> str:
    """A school and room of the other provider."""
    async with client.app[DATABASE].transaction() as session:
        school = School(
            provider_id=org.other_provider_id, name="Far Away High", created_at=datetime.now(UTC)
        )
        session.add(school)
        await session.flush()
        room = Room(school_id=school.id, name="Ward 7 classroom")
        session.add(room)
        await session.flush()
        return room.id


async def test_a_device_cannot_point_at_another_providers_room(client, org, login):
    foreign_room = await _other_providers_room(client, org)
    device = await add_device(client.app[DATABASE], org, school_id=None)
    admin = await login("admin")
    for field in ("last_known_room_id", "charging_base_room_id"):
        resp = await client.patch(
            f"/api/devices/{device.id}", headers=admin, json={field: foreign_room}
        )
        assert resp.status == 422, (field, await resp.text())
        problem = await resp.json()
        assert problem["errors"] == [{"field": field, "message": "No such room."}]
        assert "Ward 7" not in await resp.text()
    created = await client.post(
        "/api/devices",
        headers=admin,
        json={
            "serial": "ROBOT-0777",
            "name": "Rover",
            "model": "AV1",
            "kind": "robot",
            "charging_base_room_id": foreign_room,
        },
    )
    assert created.status == 422
    shown = await (await client.get(f"/api/devices/{device.id}", headers=admin)).json()
    assert shown["last_known_room_id"] is None
    assert shown["charging_base_room_id"] is None
    listed = await (await client.get("/api/devices", headers=admin)).json()
    assert [d["serial"] for d in listed] == ["ROBOT-0001"]


async def test_a_room_of_another_school_of_the_same_provider_is_refused(client, org, login):
    device = await add_device(client.app[DATABASE], org)
    admin = await login("admin")
    school = await (
        await client.post(
            "/api/schools", headers=admin, json={"name": "Second Academy", "time_zone": "UTC"}
        )
    ).json()
    room = await (
        await client.post(f"/api/schools/{school['id']}/rooms", headers=admin, json={"name": "R1"})
    ).json()
    resp = await client.patch(
        f"/api/devices/{device.id}", headers=admin, json={"last_known_room_id": room["id"]}
    )
    assert resp.status == 422
    mine = org.room_ids[0]
    ok = await client.patch(
        f"/api/devices/{device.id}", headers=admin, json={"last_known_room_id": mine}
    )
    assert ok.status == 200
    assert (await ok.json())["last_known_room"] == "S12"


async def test_registering_a_serial_tells_nothing_about_another_provider(client, org, login):
    """The finding: another provider's serial got 409 'already registered' (an oracle)."""
    await add_device(client.app[DATABASE], org)  # ROBOT-0001 at this provider
    robot = {"serial": "ROBOT-0001", "name": "Rover", "model": "AV1", "kind": "robot"}
    theirs = await client.post("/api/devices", headers=await login("other_admin"), json=robot)
    assert theirs.status == 201, await theirs.text()
    again = await client.post("/api/devices", headers=await login("admin"), json=robot)
    assert again.status == 409  # a provider's own serials stay unique
    assert "already registered" in (await again.json())["detail"]


async def test_creating_an_account_tells_nothing_about_another_provider(client, org, login):
    """The finding: another provider's address got 409 'already an account' (an oracle).

    Each provider's addresses are its own; sign-in by address alone lets the
    password say which account it is.
    """
    taken = org.email("admin")  # an address this provider uses
    person = {"email": taken, "name": "Sam Other", "role": "coordinator"}
    theirs = await client.post("/api/users", headers=await login("other_admin"), json=person)
    assert theirs.status == 201, await theirs.text()
    generated = (await theirs.json())["password"]
    again = await client.post("/api/users", headers=await login("admin"), json=person)
    assert again.status == 409  # a provider's own addresses stay unique
    for password, provider in ((PASSWORD, org.provider_id), (generated, org.other_provider_id)):
        signed = await client.post("/api/auth/login", json={"email": taken, "password": password})
        assert signed.status == 200, await signed.text()
        bearer = {"Authorization": f"Bearer {(await signed.json())['token']}"}
        me = await (await client.get("/api/me", headers=bearer)).json()
        assert me["provider_id"] == provider
    wrong = await client.post("/api/auth/login", json={"email": taken, "password": "not it at all"})
    assert wrong.status == 401
