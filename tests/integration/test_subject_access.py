"""Subject access: one document with everything held about one pupil, for their admin only."""

from __future__ import annotations

from datetime import UTC, datetime

from factories import add_booking, add_device

from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import Pupil


async def test_an_admin_exports_everything_held_about_a_pupil(client, org, login):
    database = client.app[DATABASE]
    robot = await add_device(database, org)
    mine = await add_booking(database, org, robot.id)
    async with database.transaction() as session:
        other = Pupil(
            provider_id=org.provider_id,
            school_id=org.school_id,
            first_name="Ola",
            last_name="Nowak",
            pupil_code="OLAN77",
            created_at=datetime.now(UTC),
        )
        session.add(other)
    admin = await login("admin")
    await client.get(f"/api/pupils/{org.pupil.id}", headers=admin)
    resp = await client.get(f"/api/pupils/{org.pupil.id}/export", headers=admin)
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    doc = await resp.json()
    tables = doc["tables"]
    assert [p["first_name"] for p in tables["pupils"]] == ["Sam"]
    assert "pin_hash" not in tables["pupils"][0]
    assert [b["id"] for b in tables["bookings"]] == [mine]
    assert any(a["action"] == "pupil.read" for a in tables["audit_log"])
    assert "auth_tokens" not in tables
    assert "Ola" not in str(doc)
    audit = await (await client.get(f"/api/audit?subject_id={org.pupil.id}", headers=admin)).json()
    assert audit[0]["action"] == "pupil.export"


async def test_only_the_pupils_own_admin_may_export(client, org, login):
    url = f"/api/pupils/{org.pupil.id}/export"
    assert (await client.get(url, headers=await login("other_admin"))).status == 404
    for role in ("coordinator", "hospital_staff", "assistant"):
        assert (await client.get(url, headers=await login(role))).status == 403
