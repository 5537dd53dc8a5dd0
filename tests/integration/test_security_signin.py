"""Security at sign-in: where it sends you, and how fast a guesser is stopped."""

from __future__ import annotations

import asyncio
import re

import pytest
from factories import PASSWORD, PUPIL_PIN, seed_org

from telepresence.platform.http.context import DATABASE


@pytest.fixture
def org_seeded():
    """Seeds the usual organisation into a client's app (for apps made by the test)."""

    async def seed(client):
        return await seed_org(client.app[DATABASE])

    return seed


async def test_next_with_control_characters_never_leaves_the_site(client, org):
    """The finding: ``/login?next=/%09/evil.example/`` went to //evil.example/ after sign-in."""
    for disguise in (
        "/%09/evil.example/",
        "/%0a/evil.example/",
        "/%0d/evil.example/",
        "/%5cevil.example/",
    ):
        page = await (await client.get(f"/login?next={disguise}")).text()
        hidden = re.search(r'name="next" value="([^"]*)"', page)
        assert hidden
        resp = await client.post(
            "/login",
            data={"email": org.email("admin"), "password": PASSWORD, "next": hidden.group(1)},
            allow_redirects=False,
        )
        assert resp.status == 303
        assert resp.headers["Location"] == "/devices", disguise
        client.session.cookie_jar.clear()


def _limited_app(settings, clock, **limits):
    from telepresence.app import create_app

    return create_app(settings.model_copy(update=limits), clock=clock)


async def test_concurrent_wrong_passwords_are_counted_before_they_are_checked(
    aiohttp_client, settings, clock, org_seeded
):
    """The finding: 20 wrong passwords sent at once were all checked (none got 429)."""
    client = await aiohttp_client(
        _limited_app(settings, clock, login_attempts_per_minute=10, login_attempts_per_account=100)
    )
    await org_seeded(client)

    async def guess(n: int) -> int:
        resp = await client.post(
            "/api/auth/login", json={"email": f"guess{n}@test.example", "password": "wrong-one"}
        )
        return resp.status

    statuses = await asyncio.gather(*(guess(n) for n in range(20)))
    assert sorted(statuses) == [401] * 10 + [429] * 10


async def test_one_account_is_limited_whatever_the_address(
    aiohttp_client, settings, clock, org_seeded
):
    client = await aiohttp_client(
        _limited_app(settings, clock, login_attempts_per_minute=1000, login_attempts_per_account=3)
    )
    org = await org_seeded(client)
    email = org.email("coordinator")
    statuses = [
        (await client.post("/api/auth/login", json={"email": email, "password": "no"})).status
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    right = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert right.status == 429  # the right password does not open a locked account early
    assert "Retry-After" in right.headers
    other = await client.post(
        "/api/auth/login", json={"email": org.email("admin"), "password": PASSWORD}
    )
    assert other.status == 200  # the address is not locked: colleagues sign in


async def test_a_child_mistyping_locks_only_their_own_code(
    aiohttp_client, settings, clock, org_seeded
):
    """One pupil mistyping on a ward must not lock every tablet behind the hospital's address."""
    client = await aiohttp_client(
        _limited_app(settings, clock, login_attempts_per_minute=1000, login_attempts_per_account=3)
    )
    await org_seeded(client)
    for expected in (401, 401, 401, 429):
        resp = await client.post(
            "/api/auth/pupil-login", json={"pupil_code": "samk42", "pin": "0000"}
        )
        assert resp.status == expected
    page = await client.post(
        "/pupil-login", data={"pupil_code": "SAMK42", "pin": PUPIL_PIN}, allow_redirects=False
    )
    assert page.status == 429  # the page and the API share the count
    other = await client.post("/api/auth/pupil-login", json={"pupil_code": "OTHER1", "pin": "1234"})
    assert other.status == 401  # another code from the same address is still checked
