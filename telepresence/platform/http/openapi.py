"""The OpenAPI 3.1 document, generated from the declared routes and their pydantic schemas."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from telepresence.platform.http.routing import Endpoint
from telepresence.platform.security.identity import Public

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
                "required": ["message"],
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    # An import's problems name the file and the line (null: the whole file).
                    "file": {"type": "string"},
                    "line": {"type": ["integer", "null"]},
                },
            },
        },
    },
}


TIME_PATTERN = r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"


def _tidy(node: Any, renames: dict[str, str]) -> Any:
    """Point refs at renamed components; a local time is HH:MM[:SS], not RFC 3339's ``time``.

    JSON Schema's ``time`` format requires an offset, which a school's local
    lesson time never has, so the document would call every answer invalid.
    """
    if isinstance(node, list):
        return [_tidy(item, renames) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _tidy(value, renames) for key, value in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith(REF.format(model="")):
        name = ref.rsplit("/", 1)[1]
        out["$ref"] = REF.format(model=renames.get(name, name))
    if out.get("format") == "time" and out.get("type") == "string":
        del out["format"]
        out["pattern"] = TIME_PATTERN
    return out


def _register(defs: dict[str, Any], components: dict[str, Any]) -> dict[str, str]:
    """Add generated definitions; a name already taken by a different schema gets a new name.

    Two models may share a class name in different packages (``DeviceOut``), and
    one model may differ as a request and as an answer: each keeps its own schema.
    """
    renames: dict[str, str] = {}
    for name, schema in defs.items():
        known = components.get(name)
        if known is None or known == _tidy(schema, {}):
            continue
        n = 2
        while (other := components.get(f"{name}{n}")) is not None and other != _tidy(schema, {}):
            n += 1
        renames[name] = f"{name}{n}"
    for name, schema in defs.items():
        components[renames.get(name, name)] = _tidy(schema, renames)
    return renames


def _schema(tp: Any, components: dict[str, Any], mode: str) -> dict[str, Any]:
    schema: dict[str, Any] = TypeAdapter(tp).json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    defs: dict[str, Any] = schema.pop("$defs", {})
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        defs[tp.__name__] = schema
        renames = _register(defs, components)
        return {"$ref": REF.format(model=renames.get(tp.__name__, tp.__name__))}
    tidied: dict[str, Any] = _tidy(schema, _register(defs, components))
    return tidied


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
        renames = _register(query_schema.pop("$defs", {}), components)
        query_schema = dict(_tidy(query_schema, renames))
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
                # An empty upload is refused, so the document asks for at least one byte.
                media: {"schema": {"type": "string", "format": "binary", "minLength": 1}}
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
