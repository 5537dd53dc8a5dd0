"""Integration fixtures: the real app on a real port (aiohttp test server) over each database."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient
from factories import PASSWORD, Org, seed_org

from telepresence.app import create_app
from telepresence.platform.http.context import DATABASE
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


class _ServerErrors(logging.Handler):
    """Errors aiohttp itself logs for a handler that raised past every middleware."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage())


@pytest.fixture(autouse=True)
def clean_server_log(request: pytest.FixtureRequest) -> Iterator[list[dict[str, Any]]]:
    """Fail a test that leaves an ``unhandled_error`` in the server log it did not expect.

    A test that provokes one on purpose says so with
    ``@pytest.mark.unhandled_error_expected``.
    """
    seen: list[dict[str, Any]] = []

    def record(_logger: Any, _method: str, event: Any) -> Any:
        if event.get("event") == "unhandled_error":
            seen.append(dict(event))
        return event

    before = structlog.get_config()
    saved = {key: before[key] for key in ("processors", "logger_factory", "wrapper_class")}
    structlog.configure(processors=[record, *saved["processors"]])
    aiohttp_errors = _ServerErrors()
    server_log = logging.getLogger("aiohttp.server")
    server_log.addHandler(aiohttp_errors)
    try:
        yield seen
    finally:
        server_log.removeHandler(aiohttp_errors)
        structlog.configure(**saved)
    if request.node.get_closest_marker("unhandled_error_expected"):
        return
    found = [f"{e.get('method')} {e.get('path')}" for e in seen] + aiohttp_errors.seen
    if found:
        pytest.fail(f"unexpected unhandled errors in the server log: {found}", pytrace=False)
