"""Integration fixtures: the real app on a real port (aiohttp test server) over each database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from factories import PASSWORD, Org, seed_org

from telepresence.app import create_app
from telepresence.platform.context import DATABASE
from telepresence.platform.settings import Settings

Login = Callable[[str], Awaitable[dict[str, str]]]


@pytest.fixture
def app(settings: Settings, clock) -> web.Application:
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(aiohttp_client, app: web.Application) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(app)


@pytest.fixture
async def org(client: TestClient[web.Request, web.Application]) -> Org:
    return await seed_org(client.app[DATABASE])


@pytest.fixture
def login(client: TestClient[web.Request, web.Application], org: Org) -> Login:
    """Sign in as a role of the org (or an email) and get bearer headers."""

    async def sign_in(role: str) -> dict[str, str]:
        email = org.email(role) if role in org.users else role
        resp = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert resp.status == 200, await resp.text()
        return {"Authorization": f"Bearer {(await resp.json())['token']}"}

    return sign_in


@pytest.fixture
async def paired(client: TestClient[web.Request, web.Application], org: Org, login: Login):
    """A robot paired through the API: (device id, bearer headers with its credential)."""
    from factories import add_device

    device = await add_device(client.app[DATABASE], org)
    admin = await login("admin")
    code = await (await client.post(f"/api/devices/{device.id}/pairing-code", headers=admin)).json()
    pair = await (await client.post("/api/devices/pair", json={"code": code["code"]})).json()
    return device.id, {"Authorization": f"Bearer {pair['credential']}"}
