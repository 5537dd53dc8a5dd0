"""Security: every read and every id in a request stays inside the caller's provider.

Two providers on one server: the admin of the other provider must learn nothing
about this one, neither from the audit log nor by naming this provider's ids.
"""

from __future__ import annotations

from test_pages import sign_in


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
    assert org.pupil.id not in html.replace(f"subject_id={org.pupil.id}", "").replace(
        f'value="{org.pupil.id}"', ""
    )
