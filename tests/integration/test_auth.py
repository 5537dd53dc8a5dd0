"""Sign-in, tokens and their revocation, rate limits, over SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from factories import PASSWORD, PUPIL_PIN
from sqlalchemy import select

from telepresence.platform.http.context import DATABASE, LOGIN_LIMITER
from telepresence.platform.models import AuthToken


async def test_login_returns_a_token_stored_only_as_a_digest(client, org):
    resp = await client.post(
        "/api/auth/login", json={"email": org.email("admin"), "password": PASSWORD}
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["role"] == "admin"
    assert body["token"].startswith("cba_")
    async with client.app[DATABASE].sessions() as session:
        stored = list(await session.scalars(select(AuthToken.token_hash)))
    assert body["token"] not in stored
    assert len(stored) == 1
    assert len(stored[0]) == 64
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert (await me.json())["id"] == org.users["admin"].id


async def test_wrong_password_and_unknown_email_get_the_same_answer(client, org):
    wrong = await client.post(
        "/api/auth/login", json={"email": org.email("admin"), "password": "nope"}
    )
    unknown = await client.post(
        "/api/auth/login", json={"email": "who@test.example", "password": "nope"}
    )
    assert wrong.status == unknown.status == 401
    assert wrong.content_type == "application/problem+json"
    assert (await wrong.json())["detail"] == (await unknown.json())["detail"]


async def test_expired_token_is_refused(client, org, login, clock):
    headers = await login("coordinator")
    assert (await client.get("/api/me", headers=headers)).status == 200
    clock.advance(timedelta(hours=9))
    resp = await client.get("/api/me", headers=headers)
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_logout_revokes_the_token_at_once(client, org, login):
    headers = await login("hospital_staff")
    assert (await client.post("/api/auth/logout", headers=headers)).status == 204
    assert (await client.get("/api/me", headers=headers)).status == 401


async def test_deactivating_a_user_revokes_their_tokens(client, org, login):
    admin = await login("admin")
    victim = await login("coordinator")
    resp = await client.post(f"/api/users/{org.users['coordinator'].id}/deactivate", headers=admin)
    assert resp.status == 204
    assert (await client.get("/api/me", headers=victim)).status == 401
    again = await client.post(
        "/api/auth/login", json={"email": org.email("coordinator"), "password": PASSWORD}
    )
    assert again.status == 401


async def test_pupil_signs_in_with_code_and_pin(client, org):
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "samk42", "pin": PUPIL_PIN}
    )
    assert resp.status == 200
    token = (await resp.json())["token"]
    me = await (await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert me == {
        "id": org.pupil.id,
        "role": "pupil",
        "display_name": "Sam K.",
        "provider_id": org.provider_id,
        "school_id": org.school_id,
    }


async def test_login_is_rate_limited(client, org):
    client.app[LOGIN_LIMITER].limit = 3
    statuses = []
    for _ in range(5):
        resp = await client.post(
            "/api/auth/login", json={"email": org.email("admin"), "password": "guess"}
        )
        statuses.append(resp.status)
    assert statuses == [401, 401, 401, 429, 429]
    assert int(resp.headers["Retry-After"]) >= 1
    ok = await client.post(
        "/api/auth/login", json={"email": org.email("admin"), "password": PASSWORD}
    )
    assert ok.status == 429  # even the right password waits: no oracle for guessers


async def test_malformed_and_foreign_tokens_are_refused(client, org):
    for value in (
        "Bearer nonsense",
        "Bearer cba_" + "x" * 43,
        "Bearer cbd_" + "y" * 43,
        "Basic abc",
    ):
        resp = await client.get("/api/me", headers={"Authorization": value})
        assert resp.status == 401, value


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    aiohttp_client, settings, clock, org
):
    from telepresence.app import create_app

    proxied = await aiohttp_client(
        create_app(
            settings.model_copy(
                update={"trusted_proxies": ["127.0.0.1"], "login_attempts_per_minute": 2}
            ),
            clock=clock,
        )
    )

    async def attempt(forwarded: str) -> int:
        resp = await proxied.post(
            "/api/auth/login",
            headers={"X-Forwarded-For": forwarded},
            json={"email": org.email("admin"), "password": "guess"},
        )
        return resp.status

    assert [await attempt("203.0.113.7") for _ in range(3)] == [401, 401, 429]
    assert await attempt("198.51.100.1, 203.0.113.9") == 401  # another client: its own limit


async def test_forwarded_for_is_ignored_from_untrusted_peers(client, org):
    client.app[LOGIN_LIMITER].limit = 2
    statuses = []
    for n in range(3):
        resp = await client.post(
            "/api/auth/login",
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
            json={"email": org.email("admin"), "password": "guess"},
        )
        statuses.append(resp.status)
    assert statuses == [401, 401, 429]


async def test_successful_sign_ins_never_use_up_the_limit(client, org):
    client.app[LOGIN_LIMITER].limit = 3
    for _ in range(12):  # a class signing in from behind one school address
        resp = await client.post(
            "/api/auth/login", json={"email": org.email("admin"), "password": PASSWORD}
        )
        assert resp.status == 200
