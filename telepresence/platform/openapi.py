"""The OpenAPI 3.1 document, generated from the declared routes and their pydantic schemas."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from telepresence.platform.identity import Public
from telepresence.platform.routing import Endpoint

__all__ = ["build_openapi"]

REF = "#/components/schemas/{model}"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _schema(tp: Any, components: dict[str, Any], mode: str) -> dict[str, Any]:
    schema: dict[str, Any] = TypeAdapter(tp).json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    components.update(schema.pop("$defs", {}))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        components[tp.__name__] = schema
        return {"$ref": REF.format(model=tp.__name__)}
    return schema


def _raw_schema(media: str) -> dict[str, Any]:
    """A text body is a string; anything else (a PDF, a zip) is bytes."""
    if media.startswith("text/"):
        return {"type": "string"}
    return {"type": "string", "format": "binary"}


def _operation(endpoint: Endpoint, components: dict[str, Any]) -> dict[str, Any]:
    roles = (
        "anyone"
        if isinstance(endpoint.roles, Public)
        else ", ".join(sorted(r.value for r in endpoint.roles))
    )
    op: dict[str, Any] = {
        "operationId": endpoint.name,
        "summary": endpoint.summary,
        "tags": list(endpoint.tags),
        "description": f"Roles: {roles}.",
        "x-roles": roles.split(", "),
        "parameters": [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in endpoint.path_params
        ],
    }
    if not isinstance(endpoint.roles, Public):
        op["security"] = [{"bearer": []}, {"cookie": []}]
    if endpoint.query is not None:
        query_schema = endpoint.query.model_json_schema(ref_template=REF)
        required = set(query_schema.get("required", []))
        for name, prop in query_schema.get("properties", {}).items():
            op["parameters"].append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    if endpoint.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": _schema(endpoint.body, components, "validation")}
            },
        }
    if endpoint.raw_body:
        op["requestBody"] = {
            "required": True,
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in endpoint.raw_body
            },
        }
    ok: dict[str, Any] = {"description": "Success"}
    if endpoint.response is not None:
        schema = _schema(endpoint.response, components, "serialization")
        ok["content"] = {"application/json": {"schema": schema}}
    if endpoint.raw_response:
        ok["content"] = {media: {"schema": _raw_schema(media)} for media in endpoint.raw_response}
    has_body = endpoint.response is not None or bool(endpoint.raw_response)
    responses: dict[str, Any] = {str(endpoint.status if has_body else 204): ok}
    if not has_body and endpoint.status != 200:
        responses = {str(endpoint.status): ok}
    codes = {*endpoint.errors, 422} if (endpoint.body or endpoint.query) else {*endpoint.errors}
    if not isinstance(endpoint.roles, Public):
        codes |= {401, 403}
    for code in sorted(codes):
        responses[str(code)] = {
            "description": "Problem",
            "content": {"application/problem+json": {"schema": PROBLEM_REF}},
        }
    op["responses"] = responses
    return op


def build_openapi(endpoints: list[Endpoint], *, version: str, server_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared API route."""
    components: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in sorted(endpoints, key=lambda e: (e.path, e.method)):
        if endpoint.kind != "api":
            continue
        path = endpoint.path.split(":")[0] if ":" in endpoint.path else endpoint.path
        paths.setdefault(path, {})[endpoint.method.lower()] = _operation(endpoint, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Classbridge API",
            "version": version,
            "description": "Telepresence classroom coordination for medical alternative "
            "provision. Errors are application/problem+json (RFC 9457).",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "cb_session"},
            },
        },
    }
