"""Schools, rooms, pupils and accounts: CRUD, scoping by role, and the audit trail."""

from __future__ import annotations

from factories import PASSWORD
from sqlalchemy import select

from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import AuditEntry


async def audit_actions(client) -> list[tuple[str, str, str]]:
    async with client.app[DATABASE].sessions() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.actor_role, r.action, r.subject_id) for r in rows]


async def test_hospital_staff_put_a_pupil_on_roll_and_set_a_pin(client, org, login):
    staff = await login("hospital_staff")
    resp = await client.post(
        "/api/pupils",
        headers=staff,
        json={
            "first_name": "Aisha",
            "last_name": "Rahman",
            "school_id": org.school_id,
            "year_group": "Year 7",
            "key_worker_id": org.users["hospital_staff"].id,
            "parent_consent": True,
        },
    )
    assert resp.status == 201, await resp.text()
    pupil = await resp.json()
    assert pupil["display_name"] == "Aisha R."
    assert len(pupil["pupil_code"]) == 6
    assert pupil["has_pin"] is False
    pin = await client.put(f"/api/pupils/{pupil['id']}/pin", json={"pin": "7391"}, headers=staff)
    assert pin.status == 204
    signed_in = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": pupil["pupil_code"], "pin": "7391"}
    )
    assert signed_in.status == 200
    actions = [a for _, a, _ in await audit_actions(client)]
    assert actions == ["pupil.add", "pupil.set_pin"]


async def test_reading_a_pupil_is_audited_with_the_request_id(client, org, login):
    coordinator = await login("coordinator")
    resp = await client.get(
        f"/api/pupils/{org.pupil.id}", headers=coordinator | {"X-Request-ID": "req-1234567890"}
    )
    assert resp.status == 200
    async with client.app[DATABASE].sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "pupil.read"))
    assert entry is not None
    assert (entry.actor_role, entry.subject_id, entry.request_id) == (
        "coordinator",
        org.pupil.id,
        "req-1234567890",
    )


async def test_assistants_pupils_and_devices_cannot_read_pupil_records(client, org, login):
    assistant = await login("assistant")
    assert (await client.get("/api/pupils", headers=assistant)).status == 403
    assert (await client.get(f"/api/pupils/{org.pupil.id}", headers=assistant)).status == 403
    pupil = await client.post("/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": "4826"})
    as_pupil = {"Authorization": f"Bearer {(await pupil.json())['token']}"}
    assert (await client.get(f"/api/pupils/{org.pupil.id}", headers=as_pupil)).status == 403
    assert await audit_actions(client) == []


async def test_pupils_of_another_provider_are_invisible(client, org, login):
    other = await login("admin@other.example")
    assert (await client.get(f"/api/pupils/{org.pupil.id}", headers=other)).status == 404
    assert await (await client.get("/api/pupils", headers=other)).json() == []


async def test_deactivating_a_pupil_signs_their_tablet_out(client, org, login):
    pupil = await client.post("/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": "4826"})
    as_pupil = {"Authorization": f"Bearer {(await pupil.json())['token']}"}
    assert (await client.get("/api/me", headers=as_pupil)).status == 200
    resp = await client.patch(
        f"/api/pupils/{org.pupil.id}", json={"active": False}, headers=await login("hospital_staff")
    )
    assert resp.status == 200
    assert (await client.get("/api/me", headers=as_pupil)).status == 401


async def test_schools_and_rooms(client, org, login):
    admin = await login("admin")
    school = await client.post(
        "/api/schools",
        headers=admin,
        json={"name": "Hillside Primary", "time_zone": "Europe/London"},
    )
    assert school.status == 201
    school_id = (await school.json())["id"]
    room = await client.post(
        f"/api/schools/{school_id}/rooms",
        headers=admin,
        json={"name": "Class 4", "building": "Infants", "floor": 0},
    )
    assert room.status == 201
    clash = await client.post(
        f"/api/schools/{school_id}/rooms", headers=admin, json={"name": "class 4"}
    )
    assert clash.status == 409
    bad_zone = await client.post(
        "/api/schools", headers=admin, json={"name": "Nowhere", "time_zone": "Mars/Olympus"}
    )
    assert bad_zone.status == 422
    assert (await bad_zone.json())["errors"][0]["field"] == "time_zone"
    assistant_view = await (
        await client.get("/api/schools", headers=await login("assistant"))
    ).json()
    assert [s["id"] for s in assistant_view] == [org.school_id]


async def test_admin_creates_accounts_with_a_one_time_password(client, org, login):
    admin = await login("admin")
    resp = await client.post(
        "/api/users",
        headers=admin,
        json={
            "email": "New.Assistant@School.example",
            "name": "Jo Barker",
            "role": "assistant",
            "school_id": org.school_id,
        },
    )
    assert resp.status == 201
    body = await resp.json()
    assert body["email"] == "new.assistant@school.example"
    assert len(body["password"]) >= 12
    signed_in = await client.post(
        "/api/auth/login",
        json={"email": "new.assistant@school.example", "password": body["password"]},
    )
    assert signed_in.status == 200
    no_school = await client.post(
        "/api/users",
        headers=admin,
        json={"email": "x@school.example", "name": "X", "role": "assistant"},
    )
    assert no_school.status == 422
    pupil_role = await client.post(
        "/api/users",
        headers=admin,
        json={"email": "y@school.example", "name": "Y", "role": "pupil", "password": PASSWORD},
    )
    assert pupil_role.status == 422
    listed = await (await client.get("/api/users", headers=admin)).json()
    assert all("password" not in u for u in listed)


async def test_admin_sees_who_read_a_pupil_record(client, org, login):
    await client.get(f"/api/pupils/{org.pupil.id}", headers=await login("coordinator"))
    await client.get(f"/api/pupils/{org.pupil.id}", headers=await login("hospital_staff"))
    admin = await login("admin")
    resp = await client.get(
        f"/api/audit?subject_type=pupil&subject_id={org.pupil.id}", headers=admin
    )
    assert resp.status == 200
    rows = await resp.json()
    assert [(r["actor_role"], r["action"]) for r in rows] == [
        ("hospital_staff", "pupil.read"),
        ("coordinator", "pupil.read"),
    ]
    for role in ("coordinator", "hospital_staff", "assistant"):
        assert (await client.get("/api/audit", headers=await login(role))).status == 403
    bad = await client.get("/api/audit?limit=0", headers=admin)
    assert bad.status == 422
