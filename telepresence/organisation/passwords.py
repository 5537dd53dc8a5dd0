"""Passwords: a person changes their own, an administrator resets someone's.

Changing your own needs the current password (rate-limited like sign-in) and
ends every other session of yours; a reset by an administrator makes a random
password shown once and ends every session of that person. New passwords
must pass ``telepresence.platform.security.passwords`` (length, the common list, not
your own name). Neither password is ever logged or audited, only the act.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.errors import DomainError, InvalidInput, NotFound, validation_errors
from telepresence.platform.http.context import CLOCK, DATABASE
from telepresence.platform.http.rendering import form_fields, render
from telepresence.platform.http.routing import Routes, Schema, counting_failures
from telepresence.platform.models import AuthToken, User
from telepresence.platform.security import auth
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import Principal, Role
from telepresence.platform.security.passwords import password_problems
from telepresence.platform.security.revocation import Identity, revoke_identity

__all__ = ["PasswordChangeIn", "PasswordResetOut", "change_password", "reset_password", "routes"]

routes = Routes("passwords")
PEOPLE_WITH_PASSWORDS = [r for r in Role if r not in {Role.PUPIL, Role.DEVICE}]


class PasswordChangeIn(Schema):
    """Your current password and the new one."""

    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class PasswordResetOut(BaseModel):
    """A new random password, shown this once: give it to the person safely."""

    password: str


async def change_password(
    request: web.Request, session: AsyncSession, who: Principal, body: PasswordChangeIn
) -> None:
    """Check, set and end the person's other sessions; ``InvalidInput`` names the field."""
    user = await session.get(User, who.subject_id)
    if user is None or not user.active:
        raise NotFound("There is no such account.")
    problems = password_problems(body.new_password, email=user.email, name=user.name)
    if problems:
        raise InvalidInput(
            "Choose a stronger password.",
            errors=[{"field": "new_password", "message": p} for p in problems],
        )
    with counting_failures(request, "password", account=user.id):
        if not await auth.verify_secret(user.password_hash, body.current_password):
            raise InvalidInput(
                "Your current password is not right.",
                errors=[{"field": "current_password", "message": "not right"}],
            )
    user.password_hash = await auth.hash_secret(body.new_password)
    now = request.app[CLOCK].now()
    await session.execute(
        update(AuthToken)
        .where(
            AuthToken.user_id == user.id,
            AuthToken.revoked_at.is_(None),
            AuthToken.id != (who.token_id or ""),
        )
        .values(revoked_at=now)
    )
    record_request(request, session, who, "user.password_change", "user", user.id)


async def reset_password(
    request: web.Request, session: AsyncSession, who: Principal, user_id: str, now: datetime
) -> tuple[User, str]:
    """A random password for one of the admin's provider's accounts; every session ends."""
    user = await session.get(User, user_id)
    if user is None or user.provider_id != who.provider_id:
        raise NotFound("There is no such account.")
    password = secrets.token_urlsafe(12)
    user.password_hash = await auth.hash_secret(password)
    await revoke_identity(request.app, session, Identity.USER, user.id, now)
    record_request(request, session, who, "user.password_reset", "user", user.id)
    return user, password


@routes.api(
    "POST",
    "/api/me/password",
    roles=PEOPLE_WITH_PASSWORDS,
    body=PasswordChangeIn,
    status=204,
    errors=(422, 429),
    summary="Change your own password (your other sessions end)",
)
async def api_change_password(request: web.Request, who: Principal, body: PasswordChangeIn) -> None:
    """The session or token used for this request stays signed in."""
    async with request.app[DATABASE].transaction() as session:
        await change_password(request, session, who, body)


@routes.api(
    "POST",
    "/api/users/{user_id}/password-reset",
    roles=[Role.ADMIN],
    response=PasswordResetOut,
    errors=(404,),
    summary="Give an account a new random password, shown once (their sessions end)",
)
async def api_reset_password(request: web.Request, who: Principal) -> PasswordResetOut:
    """For someone who forgot theirs; tell them to change it after signing in."""
    async with request.app[DATABASE].transaction() as session:
        _user, password = await reset_password(
            request, session, who, request.match_info["user_id"], request.app[CLOCK].now()
        )
    return PasswordResetOut(password=password)


@routes.page(
    "GET", "/account/password", roles=PEOPLE_WITH_PASSWORDS, summary="Change your password"
)
async def password_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """The form."""
    return render(request, who, "password.html", {"title": "Change your password", "done": False})


@routes.page(
    "POST", "/account/password", roles=PEOPLE_WITH_PASSWORDS, summary="Change your password (form)"
)
async def password_submit(request: web.Request, who: Principal) -> web.StreamResponse:
    """Errors are shown on the form; nothing changes unless all is well."""
    form = await form_fields(request)
    try:
        body = PasswordChangeIn(
            current_password=form.get("current_password", ""),
            new_password=form.get("new_password", ""),
        )
        async with request.app[DATABASE].transaction() as session:
            await change_password(request, session, who, body)
    except ValidationError as exc:
        errors = [f"{e['field'].replace('_', ' ')}: {e['message']}" for e in validation_errors(exc)]
        return _password_form(request, who, errors, 422)
    except DomainError as exc:
        errors = [f"{e['field'].replace('_', ' ')}: {e['message']}" for e in exc.errors]
        return _password_form(request, who, errors or [exc.detail], exc.status)
    return render(request, who, "password.html", {"title": "Password changed", "done": True})


def _password_form(
    request: web.Request, who: Principal, errors: list[str], status: int
) -> web.Response:
    context = {"title": "Change your password", "done": False, "errors": errors}
    return render(request, who, "password.html", context, status=status)


@routes.page(
    "POST",
    "/staff/{user_id}/password-reset",
    roles=[Role.ADMIN],
    summary="Give an account a new random password (form)",
)
async def reset_submit(request: web.Request, who: Principal) -> web.StreamResponse:
    """Shows the new password once."""
    async with request.app[DATABASE].transaction() as session:
        user, password = await reset_password(
            request, session, who, request.match_info["user_id"], request.app[CLOCK].now()
        )
    context = {"title": "Password reset", "user": user, "password": password}
    return render(request, who, "password_reset.html", context, current="/staff")
