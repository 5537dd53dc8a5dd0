"""Device registry over HTTP: registration, assignment, lifecycle, pairing, credentials."""

from __future__ import annotations

from datetime import timedelta

from factories import add_device
from sqlalchemy import select

from device_registry.models import DeviceCredential, PairingCode
from telepresence.platform.http.context import DATABASE, LOGIN_LIMITER
from telepresence.platform.models import AuditEntry

ROBOT = {
    "serial": "AV1-7781",
    "name": "Robbie",
    "model": "AV1",
    "kind": "robot",
    "capabilities": ["camera", "speaker", "head_pan_tilt"],
}


async def test_admin_registers_a_robot_and_staff_see_it(client, org, login):
    admin = await login("admin")
    resp = await client.post(
        "/api/devices",
        json=ROBOT | {"school_id": org.school_id, "pupil_id": org.pupil.id},
        headers=admin,
    )
    assert resp.status == 201, await resp.text()
    device = await resp.json()
    assert device["lifecycle"] == "active"
    assert device["paired"] is False
    assert device["pupil_display_name"] == "Sam K."
    assert device["school_name"] == "Test Academy"
    listed = await (await client.get("/api/devices", headers=await login("hospital_staff"))).json()
    assert [d["serial"] for d in listed] == ["AV1-7781"]
    async with client.app[DATABASE].sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert "device.register" in actions


async def test_duplicate_serial_is_a_conflict_and_changes_nothing(client, org, login):
    admin = await login("admin")
    assert (await client.post("/api/devices", json=ROBOT, headers=admin)).status == 201
    again = await client.post("/api/devices", json=ROBOT | {"name": "Other"}, headers=admin)
    assert again.status == 409
    assert "AV1-7781" in (await again.json())["detail"]
    listed = await (await client.get("/api/devices", headers=admin)).json()
    assert [d["name"] for d in listed] == ["Robbie"]


async def test_assignment_to_unknown_things_is_refused_field_by_field(client, org, login):
    resp = await client.post(
        "/api/devices",
        json=ROBOT | {"school_id": "nope", "pupil_id": "x"},
        headers=await login("admin"),
    )
    assert resp.status == 422
    fields = {e["field"] for e in (await resp.json())["errors"]}
    assert fields == {"school_id", "pupil_id"}


async def test_only_admins_change_devices_and_nobody_sees_another_providers(client, org, login):
    device = await add_device(client.app[DATABASE], org)
    for role in ("coordinator", "hospital_staff", "assistant"):
        resp = await client.patch(
            f"/api/devices/{device.id}", json={"name": "X"}, headers=await login(role)
        )
        assert resp.status == 403, role
    other = await login("admin@other.example")
    assert (await client.get(f"/api/devices/{device.id}", headers=other)).status == 404
    assert await (await client.get("/api/devices", headers=other)).json() == []
    assert (await client.get("/api/devices")).status == 401


async def test_pairing_code_is_one_time_and_gives_a_hashed_credential(client, org, login):
    device = await add_device(client.app[DATABASE], org)
    admin = await login("admin")
    code = await client.post(f"/api/devices/{device.id}/pairing-code", headers=admin)
    assert code.status == 201
    body = await code.json()
    assert len(body["code"]) == 9
    assert body["code"][4] == "-"
    assert body["qr_svg"].startswith("<svg")
    assert body["pair_url"].endswith(body["code"])
    paired = await client.post("/api/devices/pair", json={"code": body["code"].lower()})
    assert paired.status == 201
    credential = (await paired.json())["credential"]
    assert credential.startswith("cbd_")
    again = await client.post("/api/devices/pair", json={"code": body["code"]})
    assert again.status == 410
    async with client.app[DATABASE].sessions() as session:
        hashes = list(await session.scalars(select(DeviceCredential.token_hash)))
        codes = list(await session.scalars(select(PairingCode.code_hash)))
    assert credential not in hashes
    assert body["code"].replace("-", "") not in codes
    shown = await (await client.get(f"/api/devices/{device.id}", headers=admin)).json()
    assert shown["paired"] is True


async def test_expired_and_superseded_codes_are_refused(client, org, login, clock):
    device = await add_device(client.app[DATABASE], org)
    admin = await login("admin")
    first = (
        await (await client.post(f"/api/devices/{device.id}/pairing-code", headers=admin)).json()
    )["code"]
    second = (
        await (await client.post(f"/api/devices/{device.id}/pairing-code", headers=admin)).json()
    )["code"]
    assert (await client.post("/api/devices/pair", json={"code": first})).status == 410
    clock.advance(timedelta(minutes=11))
    expired = await client.post("/api/devices/pair", json={"code": second})
    assert expired.status == 410
    assert "expired" in (await expired.json())["detail"]


async def test_bad_codes_are_clear_errors(client, org):
    malformed = await client.post("/api/devices/pair", json={"code": "00000000"})
    assert malformed.status == 422
    unknown = await client.post("/api/devices/pair", json={"code": "ACDE-FGHJ"})
    assert unknown.status == 404
    assert unknown.content_type == "application/problem+json"


async def test_pairing_is_rate_limited(client, org):
    client.app[LOGIN_LIMITER].limit = 2
    statuses = [
        (await client.post("/api/devices/pair", json={"code": "ACDE-FGHJ"})).status
        for _ in range(4)
    ]
    assert statuses == [404, 404, 429, 429]


async def test_retired_device_cannot_be_paired_or_return(client, org, login):
    device = await add_device(client.app[DATABASE], org, pupil_id=org.pupil.id)
    admin = await login("admin")
    resp = await client.patch(
        f"/api/devices/{device.id}", json={"lifecycle": "retired"}, headers=admin
    )
    body = await resp.json()
    assert body["lifecycle"] == "retired"
    assert body["pupil_id"] is None
    back = await client.patch(
        f"/api/devices/{device.id}", json={"lifecycle": "active"}, headers=admin
    )
    assert back.status == 409
    code = await client.post(f"/api/devices/{device.id}/pairing-code", headers=admin)
    assert code.status == 409


async def test_rotating_a_credential_invalidates_the_old_one(client, org, login):
    device = await add_device(client.app[DATABASE], org)
    admin = await login("admin")
    code = (
        await (await client.post(f"/api/devices/{device.id}/pairing-code", headers=admin)).json()
    )["code"]
    old = (await (await client.post("/api/devices/pair", json={"code": code})).json())["credential"]
    assert (await client.get("/api/me", headers={"Authorization": f"Bearer {old}"})).status == 200
    rotated = await client.post(f"/api/devices/{device.id}/credential/rotate", headers=admin)
    new = (await rotated.json())["credential"]
    assert (await client.get("/api/me", headers={"Authorization": f"Bearer {old}"})).status == 401
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {new}"})
    assert (await me.json())["role"] == "device"


async def test_devices_may_not_use_staff_endpoints(client, org, login):
    device = await add_device(client.app[DATABASE], org)
    admin = await login("admin")
    code = (
        await (await client.post(f"/api/devices/{device.id}/pairing-code", headers=admin)).json()
    )["code"]
    credential = (await (await client.post("/api/devices/pair", json={"code": code})).json())[
        "credential"
    ]
    as_device = {"Authorization": f"Bearer {credential}"}
    assert (await client.get("/api/devices", headers=as_device)).status == 403
    assert (await client.get("/api/pupils", headers=as_device)).status == 403


async def test_telemetry_history_query_is_validated(client, org, login):
    device = await add_device(client.app[DATABASE], org)
    staff = await login("hospital_staff")
    ok = await client.get(f"/api/devices/{device.id}/telemetry?hours=2", headers=staff)
    assert ok.status == 200
    assert await ok.json() == []
    bad = await client.get(f"/api/devices/{device.id}/telemetry?hours=lots", headers=staff)
    assert bad.status == 422
    assert (await bad.json())["errors"][0]["field"] == "hours"


async def test_fleet_pages_hear_about_lifecycle_changes(client, org, login):
    import asyncio

    from device_registry.hub import fleet_topic
    from telepresence.platform.http.context import EVENTS

    device = await add_device(client.app[DATABASE], org)
    async with client.app[EVENTS].subscribe(fleet_topic(org.provider_id)) as events:
        await client.patch(
            f"/api/devices/{device.id}",
            json={"lifecycle": "maintenance"},
            headers=await login("admin"),
        )
        event = await asyncio.wait_for(events.get(), 2)
    assert event == {"device_id": device.id, "lifecycle": "maintenance"}
