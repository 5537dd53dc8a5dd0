"""Staff pages of the organisation: home schools and their rooms."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from telepresence.organisation import services as org
from telepresence.organisation.schemas import RoomIn, SchoolIn
from telepresence.platform.errors import DomainError, validation_errors
from telepresence.platform.http.context import CLOCK, DATABASE
from telepresence.platform.http.rendering import form_fields, render
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import Room
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import STAFF, Principal, Role
from telepresence.sessions.joining.readiness_models import ReadinessCheck

__all__ = ["routes", "schools_context"]

routes = Routes("organisation-pages")


async def schools_context(request: web.Request, who: Principal) -> dict[str, Any]:
    """Each school of the provider with its rooms, for the schools page."""
    async with request.app[DATABASE].sessions() as session:
        schools = await org.list_schools(session, who)
        rooms = list(
            await session.scalars(
                select(Room)
                .where(Room.school_id.in_([s.id for s in schools]))
                .order_by(Room.building, Room.name)
            )
        )
        checks = list(
            await session.scalars(
                select(ReadinessCheck)
                .where(
                    ReadinessCheck.school_id.in_([s.id for s in schools]),
                    ReadinessCheck.finished_at.is_not(None),
                )
                .order_by(ReadinessCheck.started_at)
            )
        )
    by_school: dict[str, list[Room]] = {}
    for room in rooms:
        by_school.setdefault(room.school_id, []).append(room)
    newest = {(c.school_id, c.room.lower()): c for c in checks}  # the newest wins
    listed = {(r.school_id, r.name.lower()) for r in rooms}
    elsewhere: dict[str, list[ReadinessCheck]] = {}
    for (school_id, room_key), check in newest.items():
        if school_id and (school_id, room_key) not in listed:
            elsewhere.setdefault(school_id, []).append(check)
    return {
        "title": "Schools",
        "schools": schools,
        "rooms": by_school,
        "checks": newest,
        "unlisted_checks": elsewhere,
        "zones": {sc.id: ZoneInfo(sc.time_zone) for sc in schools},
        "verdicts": {"good": "Good for lessons", "fair": "Fair", "poor": "Poor"},
        "is_admin": who.role is Role.ADMIN,
        "can_set_camera": who.role in {Role.ADMIN, Role.COORDINATOR},
        "form": {},
    }


def _problems(exc: DomainError | ValidationError) -> list[str]:
    if isinstance(exc, ValidationError):
        return [
            f"{e['field'].replace('_', ' ').capitalize()}: {e['message']}"
            for e in validation_errors(exc)
        ]
    return [exc.detail]


@routes.page("GET", "/schools", roles=STAFF, summary="Home schools and their rooms")
async def schools_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Each school with its time zone and rooms; administrators can add both."""
    return render(request, who, "schools.html", await schools_context(request, who))


@routes.page("POST", "/schools", roles=[Role.ADMIN], summary="Add a home school (form)")
async def add_school_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """A school with its IANA time zone; errors are shown on the page."""
    form = await form_fields(request)
    try:
        data = SchoolIn(
            name=form.get("name", ""),
            time_zone=form.get("time_zone") or "Europe/London",
            contact_email=form.get("contact_email") or None,
        )
        async with request.app[DATABASE].transaction() as session:
            school = await org.add_school(session, who, data, request.app[CLOCK].now())
            record_request(request, session, who, "school.add", "school", school.id)
    except (DomainError, ValidationError) as exc:
        context = await schools_context(request, who)
        return render(
            request,
            who,
            "schools.html",
            context | {"errors": _problems(exc), "form": form},
            status=422,
        )
    raise web.HTTPSeeOther(f"/schools#s-{school.id}")


@routes.page(
    "POST",
    "/schools/{school_id}/rooms",
    roles=[Role.ADMIN],
    summary="Add a room to a school (form)",
)
async def add_room_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Room names are unique within a school."""
    form = await form_fields(request)
    school_id = request.match_info["school_id"]
    try:
        data = RoomIn(
            name=form.get("name", ""),
            building=form.get("building", ""),
            floor=int(form.get("floor") or 0),
        )
        async with request.app[DATABASE].transaction() as session:
            room = await org.add_room(session, who, school_id, data)
            record_request(request, session, who, "room.add", "room", room.id)
    except ValueError as exc:
        problems = (
            _problems(exc) if isinstance(exc, ValidationError) else ["Floor: enter a whole number."]
        )
        context = await schools_context(request, who)
        return render(request, who, "schools.html", context | {"errors": problems}, status=422)
    except DomainError as exc:
        context = await schools_context(request, who)
        return render(
            request, who, "schools.html", context | {"errors": _problems(exc)}, status=exc.status
        )
    raise web.HTTPSeeOther(f"/schools#s-{school_id}")


@routes.page(
    "POST",
    "/schools/{school_id}/pupil-camera",
    roles=[Role.ADMIN, Role.COORDINATOR],
    summary="Allow or stop pupils' cameras at a school (form)",
)
async def pupil_camera_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """``allowed`` is ``true`` or ``false``; anything else changes nothing (422)."""
    form = await form_fields(request)
    school_id = request.match_info["school_id"]
    choice = form.get("allowed", "")
    if choice not in {"true", "false"}:
        context = await schools_context(request, who)
        errors = ["Choose whether pupils' cameras are allowed."]
        return render(request, who, "schools.html", context | {"errors": errors}, status=422)
    async with request.app[DATABASE].transaction() as session:
        school, changed = await org.set_pupil_camera(session, who, school_id, choice == "true")
        if changed:
            record_request(
                request,
                session,
                who,
                "school.pupil_camera",
                "school",
                school.id,
                {"allowed": school.allow_pupil_camera},
            )
    raise web.HTTPSeeOther(f"/schools#s-{school_id}")
