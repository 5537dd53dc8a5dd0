"""The contracts every route keeps: declared roles, OpenAPI coverage, problem+json, health."""

from __future__ import annotations

import io
import json

import pytest
from aiohttp import web
from factories import OPERATOR

from telepresence.platform.http.routing import ENDPOINT_ATTR, Endpoint
from telepresence.platform.security.identity import Public

HOSTILE_BODIES = [
    b"",
    b"null",
    b"[]",
    b"{",
    b'{"a": ' + b"[" * 5000,
    "\udcff".encode("utf-8", "surrogatepass"),
    b"\xff\xfe\x00garbage",
    json.dumps({"serial": 5, "name": None}).encode(),
    json.dumps({"email": "not-an-email", "password": "x" * 10_000}).encode(),
]


def declared(app: web.Application) -> list[tuple[str, str, Endpoint | None]]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix", "")
        out.append((route.method, path, getattr(route.handler, ENDPOINT_ATTR, None)))
    return out


async def test_every_route_declares_its_roles(client):
    missing = []
    for method, path, endpoint in declared(client.app):
        if path.startswith("/static"):
            continue  # public assets: CSS and scripts, no data
        if method == "HEAD":
            continue  # aiohttp's automatic HEAD twin of a GET
        if endpoint is None or (not isinstance(endpoint.roles, Public) and not endpoint.roles):
            missing.append(f"{method} {path}")
    assert missing == []


async def test_every_api_route_is_in_the_openapi_document(client):
    doc = await (await client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    api_routes = {
        (method, path)
        for method, path, endpoint in declared(client.app)
        if endpoint is not None and endpoint.kind == "api"
    }
    assert api_routes
    assert api_routes == documented
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["summary"], path
            assert op["x-roles"], path


async def test_openapi_schemas_are_the_ones_handlers_validate_with(client):
    doc = await (await client.get("/api/openapi.json")).json()
    device_in = doc["components"]["schemas"]["DeviceIn"]
    assert set(device_in["required"]) == {"serial", "name", "model", "kind"}
    assert device_in["additionalProperties"] is False
    body = doc["paths"]["/api/devices"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/DeviceIn"}


async def test_unknown_paths_and_methods_are_problem_documents(client):
    missing = await client.get("/api/nothing-here")
    assert missing.status == 404
    assert missing.content_type == "application/problem+json"
    wrong = await client.delete("/api/devices")
    assert wrong.status == 405
    assert "DELETE" in (await wrong.json())["detail"]


async def test_oversized_bodies_are_refused_with_413(client, login):
    resp = await client.post(
        "/api/devices",
        data=io.BytesIO(b"x" * 7_000_000),
        headers=await login("admin") | {"Content-Type": "application/json"},
    )
    assert resp.status == 413
    assert resp.content_type == "application/problem+json"


@pytest.mark.parametrize("body", HOSTILE_BODIES)
async def test_hostile_bodies_never_cause_a_500(client, login, body):
    admin = await login("admin")
    for path in (
        "/api/devices",
        "/api/pupils",
        "/api/schools",
        "/api/users",
        "/api/auth/login",
        "/api/devices/pair",
    ):
        resp = await client.post(
            path, data=body, headers=admin | {"Content-Type": "application/json"}
        )
        assert 400 <= resp.status < 500, (path, resp.status, await resp.text())
        problem = await resp.json()
        assert problem["detail"]
        assert "Traceback" not in json.dumps(problem)


async def test_health_reports_database_and_scheduler(client):
    resp = await client.get("/healthz", headers=OPERATOR)
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["scheduler"]["status"] == "disabled"  # the test app runs no jobs
    assert resp.headers["X-Request-ID"]


async def test_responses_carry_security_headers(client):
    resp = await client.get("/login")
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_uploads_are_described_as_files(client):
    doc = await (await client.get("/api/openapi.json")).json()
    body = doc["paths"]["/api/pupils/{pupil_id}/timetable"]["post"]["requestBody"]["content"]
    assert set(body) == {"text/calendar", "text/csv", "application/zip"}
    assert body["text/csv"]["schema"] == {"type": "string", "format": "binary", "minLength": 1}


async def test_exports_are_described_as_csv_files(client):
    doc = await (await client.get("/api/openapi.json")).json()
    for name in ("lessons", "weekly", "alerts"):
        responses = doc["paths"][f"/api/engagement/exports/{name}.csv"]["get"]["responses"]
        assert "204" not in responses, name
        assert responses["200"]["content"] == {"text/csv": {"schema": {"type": "string"}}}
