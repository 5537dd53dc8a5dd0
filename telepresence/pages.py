"""Pages of the composition root: sign-in, home by role, pupils, schools, staff."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from scheduler.rota.listener import announce_outcomes
from scheduler.rota.pages import assistant_rota
from telepresence.organisation import services as org
from telepresence.organisation.pupil_pages import pupil_context
from telepresence.organisation.schemas import PinIn, PupilIn, UserIn
from telepresence.platform.errors import DomainError, InvalidInput, validation_errors
from telepresence.platform.http.context import CLOCK, DATABASE, SETTINGS
from telepresence.platform.http.rendering import HOME, ROLE_LABELS, form_fields, render, safe_next
from telepresence.platform.http.routing import (
    SESSION_COOKIE,
    Routes,
    check_origin,
    counting_failures,
)
from telepresence.platform.models import Provider, User
from telepresence.platform.security import auth
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import PUBLIC, STAFF, Principal, Role, TokenKind
from telepresence.platform.security.revocation import Identity, revoke_identity

__all__ = ["routes"]

routes = Routes("pages")
PEOPLE = [r for r in Role if r is not Role.DEVICE]
ROLES_BY_POWER = [
    Role.ASSISTANT,
    Role.SCHOOL_CONTACT,
    Role.HOSPITAL_STAFF,
    Role.COORDINATOR,
    Role.ADMIN,
]
STAFF_NOTICES = {
    "coordinators": "Saved: what coordinators may change.",
    "deactivated": "The account is deactivated: they are signed out everywhere.",
    "reactivated": "The account is active again: they can sign in with their password.",
}


def _form_errors(exc: DomainError | ValidationError) -> list[str]:
    if isinstance(exc, ValidationError):
        return [
            f"{e['field'].replace('_', ' ').capitalize()}: {e['message']}"
            for e in validation_errors(exc)
        ]
    return [exc.detail, *(f"{e['field']}: {e['message']}" for e in exc.errors)]


async def _sign_in(
    request: web.Request,
    role: Role,
    *,
    user_id: str | None = None,
    pupil_id: str | None = None,
    target: str,
) -> web.Response:
    settings = request.app[SETTINGS]
    lifetime = timedelta(hours=settings.session_hours)
    async with request.app[DATABASE].transaction() as session:
        token, _row = await auth.issue_token(
            session,
            kind=TokenKind.SESSION,
            role=role,
            now=request.app[CLOCK].now(),
            lifetime=lifetime,
            user_id=user_id,
            pupil_id=pupil_id,
        )
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=settings.cookie_secure,
        path="/",
    )
    raise response


@routes.page("GET", "/", roles=PUBLIC, summary="Home: each role's start page")
async def home(_request: web.Request, who: Principal | None) -> web.StreamResponse:
    """Signed-in people go to their start page; others to sign-in."""
    raise web.HTTPSeeOther(HOME.get(who.role, "/login") if who else "/login")


@routes.page("GET", "/login", roles=PUBLIC, summary="Staff sign-in page")
async def login_page(request: web.Request, who: Principal | None) -> web.StreamResponse:
    """The sign-in form."""
    return render(
        request,
        None,
        "login.html",
        {"title": "Sign in", "next": request.query.get("next", ""), "email": ""},
    )


@routes.page("POST", "/login", roles=PUBLIC, summary="Staff sign-in")
async def login_submit(request: web.Request, _who: Principal | None) -> web.StreamResponse:
    """Sets an HttpOnly, SameSite session cookie; rate-limited per address."""
    check_origin(request)
    form = await form_fields(request)
    try:
        with counting_failures(request, "login", account=form.get("email", "")):
            async with request.app[DATABASE].sessions() as session:
                user = await auth.login_user(
                    session, form.get("email", ""), form.get("password", "")
                )
    except DomainError as exc:
        return render(
            request,
            None,
            "login.html",
            {
                "title": "Sign in",
                "next": form.get("next", ""),
                "email": form.get("email", ""),
                "errors": _form_errors(exc),
            },
            status=exc.status,
        )
    who = Principal(role=Role(user.role), subject_id=user.id, display_name=user.name)
    return await _sign_in(
        request, who.role, user_id=user.id, target=safe_next(form.get("next", ""), who)
    )


@routes.page("GET", "/pupil-login", roles=PUBLIC, summary="Pupil sign-in page (tablet)")
async def pupil_login_page(request: web.Request, _who: Principal | None) -> web.StreamResponse:
    """Pupil code and PIN, in big type."""
    return render(request, None, "pupil_login.html", {"title": "Pupil sign in", "pupil_code": ""})


@routes.page("POST", "/pupil-login", roles=PUBLIC, summary="Pupil sign-in")
async def pupil_login_submit(request: web.Request, _who: Principal | None) -> web.StreamResponse:
    """Rate-limited like staff sign-in."""
    check_origin(request)
    form = await form_fields(request)
    try:
        with counting_failures(request, "login", account=f"pupil:{form.get('pupil_code', '')}"):
            async with request.app[DATABASE].sessions() as session:
                pupil = await auth.login_pupil(
                    session, form.get("pupil_code", ""), form.get("pin", "")
                )
    except DomainError as exc:
        return render(
            request,
            None,
            "pupil_login.html",
            {
                "title": "Pupil sign in",
                "pupil_code": form.get("pupil_code", ""),
                "errors": _form_errors(exc),
            },
            status=exc.status,
        )
    return await _sign_in(request, Role.PUPIL, pupil_id=pupil.id, target="/today")


@routes.page("POST", "/logout", roles=PEOPLE, summary="Sign out (revokes the session)")
async def logout(request: web.Request, who: Principal) -> web.StreamResponse:
    """The session cookie stops working at once."""
    if who.token_id:
        async with request.app[DATABASE].transaction() as session:
            await auth.revoke_token(session, who.token_id, request.app[CLOCK].now())
    response = web.HTTPSeeOther("/pupil-login" if who.role is Role.PUPIL else "/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def _pupils_context(request: web.Request, who: Principal) -> dict[str, Any]:
    async with request.app[DATABASE].transaction() as session:
        pupils = await org.list_pupils(session, who)
        schools = await org.list_schools(session, who)
        staff = list(
            await session.scalars(
                select(User)
                .where(
                    User.provider_id == who.provider_id,
                    User.role.in_([r.value for r in STAFF]),
                    User.active.is_(True),
                )
                .order_by(User.name)
            )
        )
        record_request(request, session, who, "pupil.list", "pupil", "*", {"count": len(pupils)})
    return {
        "title": "Pupils",
        "pupils": pupils,
        "schools": {s.id: s for s in schools},
        "staff": {u.id: u for u in staff},
        "can_edit": who.role in {Role.ADMIN, Role.HOSPITAL_STAFF},
        "notice": "The record is deleted." if request.query.get("notice") == "deleted" else "",
    }


@routes.page("GET", "/pupils", roles=STAFF, summary="Pupils on roll")
async def pupils_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """The roll, with a form to add a pupil."""
    return render(request, who, "pupils.html", await _pupils_context(request, who))


@routes.page(
    "POST", "/pupils", roles=[Role.ADMIN, Role.HOSPITAL_STAFF], summary="Add a pupil (form)"
)
async def pupils_add(request: web.Request, who: Principal) -> web.StreamResponse:
    """On success, go to the pupil's page to set a PIN."""
    form = await form_fields(request)
    try:
        data = PupilIn(
            first_name=form.get("first_name", ""),
            last_name=form.get("last_name", ""),
            school_id=form.get("school_id", ""),
            year_group=form.get("year_group", ""),
            key_worker_id=form.get("key_worker_id") or None,
            parent_consent=form.get("parent_consent") == "on",
            class_informed=form.get("class_informed") == "on",
        )
        async with request.app[DATABASE].transaction() as session:
            pupil = await org.register_pupil(session, who, data, request.app[CLOCK].now())
            record_request(request, session, who, "pupil.add", "pupil", pupil.id)
    except (DomainError, ValidationError) as exc:
        context = await _pupils_context(request, who)
        return render(
            request,
            who,
            "pupils.html",
            context | {"errors": _form_errors(exc)},
            status=422,
            current="/pupils",
        )
    raise web.HTTPSeeOther(f"/pupils/{pupil.id}")


@routes.page(
    "POST",
    "/pupils/{pupil_id}/camera-consent",
    roles=STAFF,
    summary="Record a pupil's camera consent (form)",
)
async def pupil_camera_consent(request: web.Request, who: Principal) -> web.StreamResponse:
    """``consent`` is ``true`` (with ``given_by`` and ``given_on``: who consented and on which
    day, not in the future) or ``false``; applies from the pupil's next join."""
    pupil_id = request.match_info["pupil_id"]
    form = await form_fields(request)
    choice = form.get("consent", "")
    given_by, given_on = form.get("given_by", "").strip(), None
    errors: list[str] = []
    if choice not in {"true", "false"}:
        errors = ["Choose whether the pupil consents to their camera in lessons."]
    elif choice == "true":
        if not 2 <= len(given_by) <= 200:
            errors.append("Who consented: give their name and who they are, e.g. 'Anna, mother'.")
        try:
            given_on = date.fromisoformat(form.get("given_on", ""))
        except ValueError:
            errors.append("When: give the day consent was given.")
        if given_on and given_on > request.app[CLOCK].now().date() + timedelta(days=1):
            errors.append("When: consent cannot be given on a day still to come.")
    if not errors:
        async with request.app[DATABASE].transaction() as session:
            pupil, changed = await org.set_camera_consent(
                session,
                who,
                pupil_id,
                choice == "true",
                given_by=given_by or None,
                given_on=given_on,
            )
            if changed:
                record_request(
                    request,
                    session,
                    who,
                    "pupil.camera_consent",
                    "pupil",
                    pupil.id,
                    {"consent": pupil.camera_consent},
                )
    context = await pupil_context(request, who, pupil_id)
    notice = "" if errors else "Camera consent saved. It applies from the pupil's next join."
    context |= {"errors": errors, "notice": notice, "consent_form": form if errors else {}}
    return render(
        request, who, "pupil.html", context, status=422 if errors else 200, current="/pupils"
    )


@routes.page("GET", "/pupils/{pupil_id}", roles=STAFF, summary="A pupil's record (audited)")
async def pupil_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Names, school, key worker, consent, tablet sign-in, devices."""
    context = await pupil_context(request, who, request.match_info["pupil_id"])
    return render(request, who, "pupil.html", context, current="/pupils")


@routes.page(
    "POST",
    "/pupils/{pupil_id}/pin",
    roles=[Role.ADMIN, Role.HOSPITAL_STAFF],
    summary="Set a pupil's PIN (form)",
)
async def pupil_pin(request: web.Request, who: Principal) -> web.StreamResponse:
    """Signs the pupil's tablet out; they sign in again with the new PIN."""
    pupil_id = request.match_info["pupil_id"]
    form = await form_fields(request)
    errors: list[str] = []
    try:
        data = PinIn(pin=form.get("pin", ""))
        async with request.app[DATABASE].transaction() as session:
            pupil = await org.get_pupil(session, who, pupil_id)
            pupil.pin_hash = await auth.hash_secret(data.pin)
            await revoke_identity(
                request.app, session, Identity.PUPIL, pupil.id, request.app[CLOCK].now()
            )
            record_request(request, session, who, "pupil.set_pin", "pupil", pupil.id)
    except ValidationError:
        errors = ["The PIN must be 4 to 8 digits."]
    context = await pupil_context(request, who, pupil_id)
    context |= {"errors": errors, "notice": "" if errors else "The new PIN is set."}
    return render(
        request, who, "pupil.html", context, status=422 if errors else 200, current="/pupils"
    )


@routes.page("GET", "/staff", roles=[Role.ADMIN], summary="Staff accounts")
async def staff_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Accounts of the provider, with a form to add one."""
    return render(request, who, "staff.html", await _staff_context(request, who))


async def _staff_context(request: web.Request, who: Principal) -> dict[str, Any]:
    async with request.app[DATABASE].sessions() as session:
        users = list(
            await session.scalars(
                select(User).where(User.provider_id == who.provider_id).order_by(User.name)
            )
        )
        schools = await org.list_schools(session, who)
        provider = await session.get(Provider, who.provider_id) if who.provider_id else None
    return {
        "title": "Staff",
        "users": users,
        "schools": {s.id: s for s in schools},
        # Least powerful first: a new account gets the fewest rights unless someone chooses more.
        "roles": [(r, ROLE_LABELS[r]) for r in ROLES_BY_POWER],
        "role_labels": ROLE_LABELS,
        "created": None,
        "notice": STAFF_NOTICES.get(request.query.get("notice", ""), ""),
        "provider": provider,
    }


@routes.page("POST", "/staff", roles=[Role.ADMIN], summary="Add a staff account (form)")
async def staff_add(request: web.Request, who: Principal) -> web.StreamResponse:
    """Shows the generated password once."""
    form = await form_fields(request)
    context = await _staff_context(request, who)
    try:
        data = UserIn(
            email=form.get("email", ""),
            name=form.get("name", ""),
            role=form.get("role", ""),
            school_id=form.get("school_id") or None,
        )
        async with request.app[DATABASE].transaction() as session:
            user, password = await org.add_user(
                session, who.provider_id, data, request.app[CLOCK].now()
            )
            record_request(request, session, who, "user.add", "user", user.id)
    except (DomainError, ValidationError) as exc:
        return render(
            request,
            who,
            "staff.html",
            context | {"errors": _form_errors(exc)},
            status=422,
            current="/staff",
        )
    context = await _staff_context(request, who)
    return render(
        request,
        who,
        "staff.html",
        context | {"created": {"email": user.email, "password": password}},
        current="/staff",
    )


@routes.page(
    "POST",
    "/staff/{user_id}/active",
    roles=[Role.ADMIN],
    summary="Deactivate or reactivate an account (form)",
)
async def staff_active(request: web.Request, who: Principal) -> web.StreamResponse:
    """``active`` is ``false`` (signed out everywhere at once) or ``true``; not one's own."""
    form = await form_fields(request)
    choice = form.get("active", "")
    if choice not in {"true", "false"}:
        raise InvalidInput("Choose whether the account is active.")
    async with request.app[DATABASE].transaction() as session:
        user = await org.set_user_active(
            request.app, session, who, request.match_info["user_id"], choice == "true"
        )
        action = "user.reactivate" if user.active else "user.deactivate"
        record_request(request, session, who, action, "user", user.id)
        outcomes = await org.replan_for(session, user, request.app[CLOCK].now())
    await announce_outcomes(request.app, outcomes)
    notice = "reactivated" if user.active else "deactivated"
    raise web.HTTPSeeOther(f"/staff?notice={notice}#u-{user.id}")


@routes.page(
    "POST",
    "/staff/coordinators",
    roles=[Role.ADMIN],
    summary="Whether coordinators may record consent and assign moves by hand (form)",
)
async def staff_coordinators(request: web.Request, who: Principal) -> web.StreamResponse:
    """``may_change`` is ``true`` or ``false`` (anything else: 422, nothing changes)."""
    choice = (await form_fields(request)).get("may_change", "")
    if choice not in {"true", "false"}:
        raise InvalidInput("Choose whether coordinators may make these changes.")
    async with request.app[DATABASE].transaction() as session:
        provider = await session.get(Provider, who.provider_id) if who.provider_id else None
        if provider is None:
            raise InvalidInput("This account belongs to no hospital school.")
        provider.coordinators_may_change = choice == "true"
        record_request(
            request,
            session,
            who,
            "provider.coordinators_may_change",
            "provider",
            provider.id,
            {"allowed": provider.coordinators_may_change},
        )
    raise web.HTTPSeeOther("/staff?notice=coordinators#coordinators")


@routes.page("GET", "/assistant", roles=[Role.ASSISTANT], summary="Assistant's day (phone)")
async def assistant_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Today's move rota, phone first (``scheduler.rota.pages``)."""
    return await assistant_rota(request, who)


@routes.page("GET", "/pair", roles=PUBLIC, summary="Where a scanned pairing QR code lands")
async def pair_page(request: web.Request, _who: Principal | None) -> web.StreamResponse:
    """Explains what to do with a pairing code; pairs nothing by itself."""
    code = request.query.get("code", "")[:12]
    return render(request, None, "pair.html", {"title": "Pair a device", "code": code})
