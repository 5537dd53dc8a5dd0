"""End-to-end fixtures: one real ``classbridge serve`` and one real Chromium per run."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from live_server import DEMO, LiveServer, Tab, launch_chromium, ok, running_server, watch
from playwright.sync_api import (
    APIRequestContext,
    Browser,
    BrowserContext,
    Playwright,
    sync_playwright,
)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The service on a free port with a fresh demo database; heartbeats every second."""
    workdir = tmp_path_factory.mktemp("classbridge")
    with running_server(
        workdir,
        CLASSBRIDGE_HEARTBEAT_SECONDS="1",
        # Every test signs in through the form from 127.0.0.1; the limit is not under test.
        CLASSBRIDGE_LOGIN_ATTEMPTS_PER_MINUTE="1000",
    ) as server:
        yield server


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """The one Playwright driver of the run: the sync API allows only one per thread.

    Every browser fixture launches from this one, never with its own ``sync_playwright()``.
    """
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright's sync API."""
    browser = launch_chromium(playwright)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def open_tab(chromium: Browser) -> Iterator[Callable[[], Tab]]:
    """Opens tabs that share no cookies with each other; all are closed after the test."""
    contexts: list[BrowserContext] = []

    def open_one() -> Tab:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        problems: list[str] = []
        context.on("page", lambda page: watch(page, problems))
        return Tab(context.new_page(), problems)

    yield open_one
    for context in contexts:
        context.close()


@pytest.fixture
def api(playwright: Playwright, live_server: LiveServer) -> Iterator[APIRequestContext]:
    """The demo admin's API client (bearer token), for tests that make their own data."""
    anonymous = playwright.request.new_context(base_url=live_server.base_url)
    login = DEMO["admin"]
    token = ok(
        anonymous.post("/api/auth/login", data={"email": login.login, "password": login.secret})
    )["token"]
    anonymous.dispose()
    client = playwright.request.new_context(
        base_url=live_server.base_url, extra_http_headers={"Authorization": f"Bearer {token}"}
    )
    yield client
    client.dispose()
