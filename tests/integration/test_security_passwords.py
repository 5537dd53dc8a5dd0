"""Passwords: a person changes their own (other sessions end), an admin resets one (shown once)."""

from __future__ import annotations

import re

from factories import PASSWORD

NEW = "tram-violet-42-sea"


async def _token(client, email: str, password: str) -> dict[str, str] | None:
    resp = await client.post("/api/auth/login", json={"email": email, "password": password})
    if resp.status != 200:
        return None
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def test_a_person_changes_their_own_password_and_other_sessions_end(client, org):
    email = org.email("coordinator")
    here = await _token(client, email, PASSWORD)
    elsewhere = await _token(client, email, PASSWORD)
    assert here
    assert elsewhere
    wrong = await client.post(
        "/api/me/password",
        headers=here,
        json={"current_password": "not-my-password", "new_password": NEW},
    )
    assert wrong.status == 422
    assert [e["field"] for e in (await wrong.json())["errors"]] == ["current_password"]
    weak = await client.post(
        "/api/me/password",
        headers=here,
        json={"current_password": PASSWORD, "new_password": "password123"},
    )
    assert weak.status == 422
    assert [e["field"] for e in (await weak.json())["errors"]] == ["new_password"]
    assert await _token(client, email, PASSWORD)  # nothing changed yet
    done = await client.post(
        "/api/me/password", headers=here, json={"current_password": PASSWORD, "new_password": NEW}
    )
    assert done.status == 204
    assert (await client.get("/api/me", headers=here)).status == 200  # this session stays
    assert (await client.get("/api/me", headers=elsewhere)).status == 401  # others end
    assert await _token(client, email, PASSWORD) is None
    assert await _token(client, email, NEW)


async def test_pupils_and_devices_have_no_password_to_change(client, org):
    from factories import PUPIL_PIN

    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    pupil = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    refused = await client.post(
        "/api/me/password", headers=pupil, json={"current_password": PUPIL_PIN, "new_password": NEW}
    )
    assert refused.status == 403


async def test_an_admin_resets_a_password_shown_once_and_sessions_end(client, org, login):
    admin = await login("admin")
    user = org.users["assistant"]
    theirs = await _token(client, user.email, PASSWORD)
    resp = await client.post(f"/api/users/{user.id}/password-reset", headers=admin)
    assert resp.status == 200
    password = (await resp.json())["password"]
    assert len(password) >= 12
    assert (await client.get("/api/me", headers=theirs)).status == 401
    assert await _token(client, user.email, PASSWORD) is None
    assert await _token(client, user.email, password)
    audit = await (await client.get(f"/api/audit?subject_id={user.id}", headers=admin)).json()
    assert [a["action"] for a in audit][:1] == ["user.password_reset"]
    assert password not in str(audit)
    other = await login("other_admin")
    assert (await client.post(f"/api/users/{user.id}/password-reset", headers=other)).status == 404
    coordinator = await login("coordinator")
    assert (
        await client.post(f"/api/users/{user.id}/password-reset", headers=coordinator)
    ).status == 403


async def test_a_weak_password_is_refused_when_an_account_is_made(client, org, login):
    resp = await client.post(
        "/api/users",
        headers=await login("admin"),
        json={
            "email": "n@school.example",
            "name": "N",
            "role": "coordinator",
            "password": "password123",
        },
    )
    assert resp.status == 422


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert match
    return match.group(1)


async def test_the_password_pages(client, org):
    email = org.email("hospital_staff")
    signed = await client.post(
        "/login", data={"email": email, "password": PASSWORD}, allow_redirects=False
    )
    assert signed.status == 303
    page = await (await client.get("/account/password")).text()
    assert 'autocomplete="new-password"' in page
    weak = await client.post(
        "/account/password",
        data={
            "csrf_token": _csrf(page),
            "current_password": PASSWORD,
            "new_password": "qwertyuiop",
        },
    )
    assert weak.status == 422
    assert "common" in await weak.text()
    ok = await client.post(
        "/account/password",
        data={"csrf_token": _csrf(page), "current_password": PASSWORD, "new_password": NEW},
    )
    assert ok.status == 200
    assert "changed" in await ok.text()
    assert await _token(client, email, NEW)


async def test_an_admin_resets_a_password_from_the_staff_page(client, org):
    signed = await client.post(
        "/login", data={"email": org.email("admin"), "password": PASSWORD}, allow_redirects=False
    )
    assert signed.status == 303
    page = await (await client.get("/staff")).text()
    user = org.users["coordinator"]
    assert f'action="/staff/{user.id}/password-reset"' in page
    resp = await client.post(f"/staff/{user.id}/password-reset", data={"csrf_token": _csrf(page)})
    assert resp.status == 200
    shown = re.search(r'<code class="big">([^<]+)</code>', await resp.text())
    assert shown
    assert await _token(client, user.email, shown.group(1))
