"""Browsers get a friendly page for a missing address or a fault; the API keeps problem+json."""

from __future__ import annotations

import pytest
from aiohttp import web
from factories import PASSWORD, seed_org
from pydantic import BaseModel, Field

from telepresence.app import create_app
from telepresence.platform.http.context import DATABASE
from telepresence.platform.http.routing import Routes
from telepresence.platform.security.identity import STAFF

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def test_a_browser_gets_a_page_for_an_address_that_does_not_exist(client, org):
    resp = await client.get("/no/such/page", headers=HTML)
    assert resp.status == 404
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert "<h1>We could not find that page</h1>" in html
    assert 'href="/"' in html
    assert "Traceback" not in html


async def test_the_api_and_clients_without_html_keep_problem_json(client, org):
    for path, headers in [("/api/nothing-here", HTML), ("/no/such/page", {})]:
        resp = await client.get(path, headers=headers)
        assert resp.status == 404
        assert resp.content_type == "application/problem+json"
        assert (await resp.json())["status"] == 404


@pytest.mark.unhandled_error_expected
async def test_a_fault_on_a_page_is_a_friendly_500_with_a_reference(
    aiohttp_client, settings, clock
):
    async def broken(_request: web.Request) -> web.Response:
        raise RuntimeError("a bug that must not show")

    app = create_app(settings, clock=clock)
    app.router.add_get("/broken-page", broken)
    app.router.add_get("/api/broken", broken)
    client = await aiohttp_client(app)
    page = await client.get("/broken-page", headers=HTML | {"X-Request-ID": "req-abcdef123456"})
    assert page.status == 500
    assert page.content_type == "text/html"
    html = await page.text()
    assert "Something went wrong" in html
    assert "req-abcdef12" in html
    assert "a bug that must not show" not in html
    api = await client.get("/api/broken", headers=HTML)
    assert api.status == 500
    assert api.content_type == "application/problem+json"


async def test_a_form_value_a_page_refuses_is_a_page_naming_the_field(
    aiohttp_client, settings, clock
):
    class Duty(BaseModel):
        minutes: int = Field(ge=0, le=600)

    extra = Routes("test-forms")

    @extra.page("POST", "/test-duty", roles=STAFF, summary="A form with a checked number")
    async def duty(request: web.Request, who) -> web.Response:
        form = await request.post()
        Duty(minutes=form.get("minutes", ""))  # raises for "lots"
        return web.Response(text="ok")

    app = create_app(settings, clock=clock)
    extra.install(app)
    client = await aiohttp_client(app)
    org = await seed_org(app[DATABASE])
    signed = await client.post(
        "/api/auth/login", json={"email": org.email("hospital_staff"), "password": PASSWORD}
    )
    token = (await signed.json())["token"]
    resp = await client.post(
        "/test-duty",
        data={"minutes": "lots"},
        headers=HTML | {"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 422
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert "Some of what was entered could not be used." in html
    assert "<strong>minutes</strong>: Input should be a valid integer" in html
