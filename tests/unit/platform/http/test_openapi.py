"""The OpenAPI document of routes that answer with a file rather than JSON."""

from __future__ import annotations

from aiohttp import web

from telepresence.platform.http.openapi import build_openapi
from telepresence.platform.http.routing import Routes
from telepresence.platform.security.identity import Role


def _document(**declared: object) -> dict[str, object]:
    routes = Routes("reports")

    @routes.api("GET", "/api/report", roles=[Role.COORDINATOR], summary="A report", **declared)  # type: ignore[arg-type]
    async def report(request: web.Request, who: object) -> web.Response:
        return web.Response(body=b"%PDF-1.7")

    endpoints = [endpoint for endpoint, _fn in routes._declared]
    return build_openapi(endpoints, version="test", server_url="/")


def _responses(doc: dict[str, object]) -> dict[str, object]:
    return doc["paths"]["/api/report"]["get"]["responses"]  # type: ignore[index]


def test_a_raw_response_is_a_200_with_its_media_types():
    responses = _responses(_document(raw_response=("application/pdf", "text/csv")))
    assert "204" not in responses
    assert responses["200"]["content"] == {  # type: ignore[index]
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        "text/csv": {"schema": {"type": "string"}},
    }
    assert set(responses) == {"200", "401", "403"}


def test_without_a_declared_response_it_is_still_a_204():
    responses = _responses(_document())
    assert set(responses) == {"204", "401", "403"}
    assert "content" not in responses["204"]  # type: ignore[operator]
