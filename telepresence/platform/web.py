"""Kernel routes: sign-in and tokens, who-am-I, health, and the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from telepresence.platform.http.context import CLOCK, DATABASE, JOBS, SETTINGS
from telepresence.platform.http.openapi import build_openapi
from telepresence.platform.http.routing import ENDPOINTS, Routes, counting_failures
from telepresence.platform.operations.probes import is_operator
from telepresence.platform.schemas import (
    AuditEntryOut,
    AuditQuery,
    ComponentHealth,
    HealthOut,
    LoginIn,
    MeOut,
    PupilLoginIn,
    SchedulerHealth,
    TokenOut,
)
from telepresence.platform.security import auth
from telepresence.platform.security.audit import entries, flush_reads
from telepresence.platform.security.identity import PUBLIC, Principal, Role, TokenKind

__all__ = ["VERSION", "routes"]

VERSION = "0.1.0"
routes = Routes("platform")
EVERYONE = list(Role)


@routes.api(
    "POST",
    "/api/auth/login",
    roles=PUBLIC,
    body=LoginIn,
    response=TokenOut,
    errors=(401, 429),
    summary="Exchange a staff email and password for a bearer token",
)
async def api_login(request: web.Request, _who: Principal | None, body: LoginIn) -> TokenOut:
    """Staff and assistants sign in; the token expires after ``api_token_hours``."""
    with counting_failures(request, "login", account=body.email):
        async with request.app[DATABASE].sessions() as check:
            user = await auth.login_user(check, body.email, body.password)
    return await _api_token(request, Role(user.role), user_id=user.id)


async def _api_token(
    request: web.Request, role: Role, *, user_id: str | None = None, pupil_id: str | None = None
) -> TokenOut:
    lifetime = timedelta(hours=request.app[SETTINGS].api_token_hours)
    async with request.app[DATABASE].transaction() as session:
        token, row = await auth.issue_token(
            session,
            kind=TokenKind.API,
            role=role,
            now=request.app[CLOCK].now(),
            lifetime=lifetime,
            user_id=user_id,
            pupil_id=pupil_id,
        )
    return TokenOut(token=token, role=role, expires_at=row.expires_at)


@routes.api(
    "POST",
    "/api/auth/pupil-login",
    roles=PUBLIC,
    body=PupilLoginIn,
    response=TokenOut,
    errors=(401, 429),
    summary="Exchange a pupil code and PIN for a bearer token",
)
async def api_pupil_login(
    request: web.Request, _who: Principal | None, body: PupilLoginIn
) -> TokenOut:
    """A pupil's tablet signs in with the code and PIN staff gave the pupil."""
    with counting_failures(request, "login", account=f"pupil:{body.pupil_code}"):
        async with request.app[DATABASE].sessions() as check:
            pupil = await auth.login_pupil(check, body.pupil_code, body.pin)
    return await _api_token(request, Role.PUPIL, pupil_id=pupil.id)


@routes.api(
    "POST",
    "/api/auth/logout",
    roles=[r for r in Role if r is not Role.DEVICE],
    summary="Revoke the token or session used for this request",
    status=204,
)
async def api_logout(request: web.Request, who: Principal) -> None:
    """The presented token stops working at once."""
    if who.token_id:
        async with request.app[DATABASE].transaction() as session:
            await auth.revoke_token(session, who.token_id, request.app[CLOCK].now())


@routes.api("GET", "/api/me", roles=EVERYONE, response=MeOut, summary="Who am I")
async def api_me(_request: web.Request, who: Principal) -> MeOut:
    """The caller's identity as the service sees it."""
    return MeOut(
        id=who.subject_id,
        role=who.role,
        display_name=who.display_name,
        provider_id=who.provider_id,
        school_id=who.school_id,
    )


@routes.api(
    "GET",
    "/healthz",
    roles=PUBLIC,
    response=HealthOut,
    errors=(503,),
    summary="Health of the database and the scheduler (503 when the database is down); "
    "anonymous callers get the status only, details with the metrics token or an admin session",
)
async def healthz(request: web.Request, who: Principal | None) -> web.Response:
    """For load balancers and operators; reveals no data, and nothing but the status anonymously."""
    try:
        latency = await request.app[DATABASE].ping()
        db = ComponentHealth(status="ok", latency_ms=round(latency, 2))
    except (SQLAlchemyError, OSError) as exc:
        db = ComponentHealth(status="unavailable", detail=type(exc).__name__)
    health = HealthOut(status="ok" if db.status == "ok" else "degraded")
    if is_operator(request, who):
        state = request.app[JOBS].state()
        health.version = VERSION
        health.database = db
        health.scheduler = SchedulerHealth(
            status=state["status"], leader=state["leader"], jobs=state["jobs"]
        )
        health.smtp = "configured" if request.app[SETTINGS].smtp_host else "not configured"
    return web.json_response(
        health.model_dump(mode="json", exclude_none=True),
        status=200 if health.status == "ok" else 503,
    )


@routes.api("GET", "/api/openapi.json", roles=PUBLIC, summary="This OpenAPI 3.1 document")
async def openapi(request: web.Request, _who: Principal | None) -> web.Response:
    """Generated from the declared routes; the same on every call."""
    doc: dict[str, Any] = build_openapi(
        request.app[ENDPOINTS], version=VERSION, server_url=request.app[SETTINGS].base_url
    )
    return web.json_response(doc)


@routes.api(
    "GET",
    "/api/audit",
    roles=[Role.ADMIN],
    query=AuditQuery,
    response=list[AuditEntryOut],
    summary="The audit log: who read or changed which record (newest first)",
)
async def audit_log(request: web.Request, who: Principal, query: AuditQuery) -> list[AuditEntryOut]:
    """For the data protection officer: filter by record, or by the person who acted.

    Only the caller's provider's entries: another provider's are as if they did not exist.
    """
    await flush_reads(request.app)
    async with request.app[DATABASE].sessions() as session:
        rows = await entries(session, provider_id=who.provider_id, **query.model_dump())
    return [AuditEntryOut.model_validate(r, from_attributes=True) for r in rows]
