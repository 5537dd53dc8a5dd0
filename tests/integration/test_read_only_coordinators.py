"""Coordinators read (issue 16): they record no consent and pin no move unless the provider
allows it; recording consent asks who consented and when."""

from __future__ import annotations

from integration.rota_helpers import LAB_THEN_S12, on_duty_all_week, robbie_tomorrow
from integration.test_pages import csrf_of, sign_in
from sqlalchemy import select

from telepresence.platform.http.context import DATABASE
from telepresence.platform.models import AuditEntry, Provider, Pupil

CONSENT = {"consent": True, "given_by": "Anna Kowalski, mother", "given_on": "2026-12-01"}


async def _allow_coordinators(client, org, allowed: bool) -> None:
    client.session.cookie_jar.clear()
    await sign_in(client, org.email("admin"))
    page = await (await client.get("/staff")).text()
    assert "What coordinators may change" in page
    resp = await client.post(
        "/staff/coordinators",
        data={"may_change": "true" if allowed else "false", "csrf_token": csrf_of(page)},
        allow_redirects=False,
    )
    assert resp.status == 303
    client.session.cookie_jar.clear()


async def test_a_coordinator_records_no_consent_until_the_provider_allows_it(client, org, login):
    coordinator = await login("coordinator")
    path = f"/api/pupils/{org.pupil.id}/camera-consent"
    refused = await client.put(path, json=CONSENT, headers=coordinator)
    assert refused.status == 403
    assert "can read but not record consent" in (await refused.json())["detail"]
    await sign_in(client, org.email("coordinator"))
    page = await (await client.get(f"/pupils/{org.pupil.id}")).text()
    assert "Record camera consent" not in page
    assert "can read consent but not record it" in page
    async with client.app[DATABASE].sessions() as session:
        assert (await session.get(Pupil, org.pupil.id)).camera_consent is False

    await _allow_coordinators(client, org, True)
    allowed = await client.put(path, json=CONSENT, headers=coordinator)
    assert allowed.status == 200
    body = await allowed.json()
    assert (body["camera_consent_by"], body["camera_consent_on"]) == (
        "Anna Kowalski, mother",
        "2026-12-01",
    )
    async with client.app[DATABASE].sessions() as session:
        provider = await session.get(Provider, org.provider_id)
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert provider.coordinators_may_change is True
    assert "provider.coordinators_may_change" in actions


async def test_a_coordinator_pins_no_move_until_the_provider_allows_it(client, org, login):
    admin = await login("admin")
    await on_duty_all_week(client, admin, org.users["assistant"].id)
    _robot, day = await robbie_tomorrow(client, org, *LAB_THEN_S12)
    rota = await (
        await client.get(f"/api/schools/{org.school_id}/rota?date={day}", headers=admin)
    ).json()
    move = rota["moves"][0]
    coordinator = await login("coordinator")
    pin = {"assistant_id": org.users["assistant"].id}
    refused = await client.put(f"/api/moves/{move['id']}/assignment", json=pin, headers=coordinator)
    assert refused.status == 403
    await sign_in(client, org.email("coordinator"))
    page = await (await client.get(f"/schools/{org.school_id}/rota?date={day}")).text()
    assert "Read only" in page
    assert "/rota/assign" not in page
    form = await client.post(
        f"/schools/{org.school_id}/rota/assign",
        data={"csrf_token": csrf_of(page), "move_id": move["id"], **pin},
        allow_redirects=False,
    )
    assert form.status == 403
    after = await (
        await client.get(f"/api/schools/{org.school_id}/rota?date={day}", headers=admin)
    ).json()
    assert after["moves"][0]["pinned"] is False

    await _allow_coordinators(client, org, True)
    allowed = await client.put(f"/api/moves/{move['id']}/assignment", json=pin, headers=coordinator)
    assert allowed.status == 200, await allowed.text()


async def test_recording_consent_in_the_page_asks_who_and_when(client, org):
    await sign_in(client, org.email("hospital_staff"))
    page = await (await client.get(f"/pupils/{org.pupil.id}")).text()
    assert 'name="given_by"' in page
    assert 'name="given_on"' in page
    csrf = csrf_of(page)
    missing = await client.post(
        f"/pupils/{org.pupil.id}/camera-consent", data={"consent": "true", "csrf_token": csrf}
    )
    assert missing.status == 422
    text = await missing.text()
    assert "Who consented" in text
    assert "When: give the day" in text
    future = await client.post(
        f"/pupils/{org.pupil.id}/camera-consent",
        data={"consent": "true", "given_by": "Anna", "given_on": "2999-01-01", "csrf_token": csrf},
    )
    assert future.status == 422
    async with client.app[DATABASE].sessions() as session:
        assert (await session.get(Pupil, org.pupil.id)).camera_consent is False
    ok = await client.post(
        f"/pupils/{org.pupil.id}/camera-consent",
        data={
            "consent": "true",
            "given_by": "Anna Kowalski, mother",
            "given_on": "2026-12-01",
            "csrf_token": csrf,
        },
    )
    assert ok.status == 200
    assert "Consent given by Anna Kowalski, mother on 1 December 2026." in await ok.text()
    withdrawn = await client.post(
        f"/pupils/{org.pupil.id}/camera-consent", data={"consent": "false", "csrf_token": csrf}
    )
    assert withdrawn.status == 200
    async with client.app[DATABASE].sessions() as session:
        pupil = await session.get(Pupil, org.pupil.id)
    assert (pupil.camera_consent, pupil.camera_consent_by, pupil.camera_consent_on) == (
        False,
        None,
        None,
    )


async def test_a_coordinator_changes_no_duty_or_days_away_until_the_provider_allows_it(
    client, org, login
):
    assistant = org.users["assistant"].id
    admin = await login("admin")
    await on_duty_all_week(client, admin, assistant)
    before = await (await client.get(f"/api/assistants/{assistant}/duty", headers=admin)).json()
    coordinator = await login("coordinator")
    away = {"start_date": "2026-12-14", "end_date": "2026-12-15", "reason": "course"}
    duty = {"patterns": [], "max_moves_per_day": 3}

    put = await client.put(f"/api/assistants/{assistant}/duty", json=duty, headers=coordinator)
    assert put.status == 403
    assert "can read but not change the rota's settings" in (await put.json())["detail"]
    add = await client.post(f"/api/assistants/{assistant}/absences", json=away, headers=coordinator)
    assert add.status == 403

    await sign_in(client, org.email("coordinator"))
    page = await (await client.get(f"/assistants/{assistant}/duty")).text()
    assert "can read duty hours and days away but not change them" in page
    assert "Save duty hours" not in page
    assert "Add days away" not in page
    assert '<fieldset class="plain" disabled>' in page
    csrf = csrf_of(page)
    saved = await client.post(
        f"/assistants/{assistant}/duty", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert saved.status == 403
    added = await client.post(
        f"/assistants/{assistant}/absences", data={"csrf_token": csrf, **away}
    )
    assert added.status == 403
    after = await (await client.get(f"/api/assistants/{assistant}/duty", headers=admin)).json()
    assert after == before
    listed = await client.get(f"/api/assistants/{assistant}/absences", headers=admin)
    assert await listed.json() == []

    await _allow_coordinators(client, org, True)
    allowed = await client.post(
        f"/api/assistants/{assistant}/absences", json=away, headers=coordinator
    )
    assert allowed.status == 201, await allowed.text()
    await sign_in(client, org.email("coordinator"))
    page = await (await client.get(f"/assistants/{assistant}/duty")).text()
    assert "Save duty hours" in page
    assert "Remove the absence" in page
