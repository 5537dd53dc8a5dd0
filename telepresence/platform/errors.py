"""Domain errors and their rendering as ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from aiohttp import web
from pydantic import ValidationError

__all__ = [
    "Conflict",
    "DomainError",
    "Forbidden",
    "Gone",
    "InvalidInput",
    "NotFound",
    "RateLimited",
    "Unauthorized",
    "error_middleware",
    "problem_response",
    "validation_errors",
    "wants_page",
]

PROBLEM = "application/problem+json"
log = structlog.get_logger("classbridge.errors")


class DomainError(Exception):
    """A failure with a meaning for the caller; ``status`` is its HTTP status."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: Sequence[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors or [])


class InvalidInput(DomainError):
    """The request is malformed or fails validation."""

    status = 422
    title = "Invalid input"


class Unauthorized(DomainError):
    """No valid credentials were presented."""

    status = 401
    title = "Not signed in"


class Forbidden(DomainError):
    """The caller is known but their role does not allow this."""

    status = 403
    title = "Not allowed"


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    status = 404
    title = "Not found"


class Conflict(DomainError):
    """The change clashes with the current state."""

    status = 409
    title = "Conflict"


class Gone(DomainError):
    """The thing existed but is expired or used up (pairing codes)."""

    status = 410
    title = "Gone"


class RateLimited(DomainError):
    """Too many attempts; ``retry_after`` seconds until the next is allowed."""

    status = 429
    title = "Too many attempts"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as ``{"field": "a.b", "message": ...}`` without echoing input."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or "body"
        out.append({"field": field, "message": err["msg"], "type": err["type"]})
    return out


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    instance: str = "",
    errors: Sequence[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An RFC 9457 problem document."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM, headers=headers)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> web.StreamResponse:
    if exc.status < 400:
        raise exc
    detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
    if exc.status == 413:
        detail = "The request body is larger than this service accepts."
    elif exc.status == 404:
        detail = f"There is nothing at {request.path}."
    elif exc.status == 405:
        detail = f"{request.method} is not allowed on {request.path}."
    headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "location"}}
    if exc.status == 405:
        headers["Allow"] = _allowed_here(request, headers.get("Allow", ""))
    if wants_page(request):
        return _error_page(request, exc.status, exc.reason, detail, headers)
    return problem_response(exc.status, exc.reason, detail, instance=request.path, headers=headers)


def _allowed_here(request: web.Request, matched: str) -> str:
    """The methods of this path itself, when it is a fixed path.

    aiohttp lists the methods of every route the path matches, so
    ``/api/devices/pair`` would also advertise ``/api/devices/{device_id}``'s.
    """
    methods = {
        route.method
        for resource in request.app.router.resources()
        if resource.canonical == request.path and "{" not in resource.canonical
        for route in resource
    }
    return ",".join(sorted(methods)) if methods else matched


def wants_page(request: web.Request) -> bool:
    """Whether the caller is a browser asking for a page: ``Accept`` names text/html.

    The API (``/api/``), sockets, static files and probes always answer problem+json.
    """
    if request.path.startswith(("/api/", "/ws/", "/static/", "/healthz", "/readyz", "/metrics")):
        return False
    return "text/html" in request.headers.get("Accept", "")


def _error_page(
    request: web.Request, status: int, title: str, detail: str, headers: dict[str, str]
) -> web.Response:
    # The kernel's page layout imports this module, hence the late import.
    from telepresence.platform.http.rendering import render_error_page

    response = render_error_page(request, status, title, detail)
    response.headers.update(headers)
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into problem+json; log unexpected ones without leaking them."""
    try:
        return await handler(request)
    except DomainError as exc:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = 'Bearer realm="classbridge"'
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            instance=request.path,
            errors=exc.errors,
            headers=headers,
        )
    except ValidationError as exc:
        return problem_response(
            422,
            "Invalid input",
            "The request did not pass validation.",
            instance=request.path,
            errors=validation_errors(exc),
        )
    except web.HTTPException as exc:
        return _from_http_exception(request, exc)
    except Exception as exc:
        if isinstance(exc, ConnectionResetError) and _client_gone(request):
            # Expected (a closed tab, a robot losing Wi-Fi mid-stream): one line, no traceback.
            log.info("client_went_away", path=request.path, method=request.method)
            return web.Response(status=499, reason="Client Closed Request")
        # The one place that catches everything: the client gets a plain problem
        # document, the operator gets the traceback in the log with the request id.
        log.exception("unhandled_error", path=request.path, method=request.method)
        return _internal_error(request)


def _internal_error(request: web.Request) -> web.Response:
    if wants_page(request):
        detail = "Something went wrong on our side. It has been logged; please try again."
        return _error_page(request, 500, "Something went wrong", detail, {})
    return problem_response(
        500,
        "Internal error",
        "Something went wrong on our side; it has been logged.",
        instance=request.path,
    )


def _client_gone(request: web.Request) -> bool:
    """Whether this request's own connection is closed (not some other connection's reset)."""
    return request.transport is None or request.transport.is_closing()
