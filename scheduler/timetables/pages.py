"""Staff pages of timetables: the list of pupils' timetables, and what every scheduler page shares.

Hospital staff and admins write; coordinators read. Every error is shown in
the page (never a raw problem document).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import func, select

from scheduler.bookings.services import list_flagged
from scheduler.timetables.models import LessonRow
from scheduler.timetables.repository import pupil_display_name
from telepresence.platform.errors import DomainError, InvalidInput
from telepresence.platform.http.context import CLOCK, DATABASE
from telepresence.platform.http.rendering import render
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import Pupil, School
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import STAFF, Principal, Role

__all__ = [
    "READERS",
    "WRITERS",
    "PupilContext",
    "error_messages",
    "error_page",
    "form_of",
    "parse_day",
    "pupil_page",
    "routes",
]

routes = Routes("timetables-index")


WRITERS = [Role.ADMIN, Role.HOSPITAL_STAFF]


READERS = sorted(STAFF)


def form_of(data: MultiDictProxy[Any]) -> dict[str, str]:
    """The text fields of a posted form (files and repeated fields are read separately)."""
    return {k: v.strip() for k, v in data.items() if isinstance(v, str)}


def parse_day(text: str, field: str, default: date | None = None) -> date:
    """A ``YYYY-MM-DD`` form field; ``InvalidInput`` naming the field otherwise."""
    if not text and default is not None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{field.capitalize()}: give a date as YYYY-MM-DD.",
            errors=[{"field": field, "message": "not a date"}],
        ) from None


def error_messages(exc: DomainError) -> list[str]:
    """The detail and each listed problem, as sentences for an error summary."""
    listed = [str(e.get("message", "")) for e in exc.errors if e.get("message")]
    return [exc.detail, *(m[:1].upper() + m[1:] for m in listed if m not in exc.detail)]


def error_page(request: web.Request, who: Principal, exc: DomainError) -> web.Response:
    """A page in the layout that says what went wrong (a page never shows problem+json)."""
    return render(
        request,
        who,
        "timetable_error.html",
        {"title": exc.title, "errors": error_messages(exc)},
        status=exc.status,
        current="/pupils",
    )


PupilContext = Callable[[web.Request, Principal, str], Awaitable[dict[str, Any]]]
"""A page's context for one pupil (request, caller, pupil id); raises ``DomainError``."""


async def pupil_page(
    request: web.Request, who: Principal, context_of: PupilContext, template: str
) -> web.Response:
    """The page about the pupil in the path (``{pupil_id}``): ``context_of`` rendered in
    ``template`` under the timetables' menu entry, or the error page of what it raised
    (a pupil not the caller's, or none)."""
    try:
        context = await context_of(request, who, request.match_info["pupil_id"])
    except DomainError as exc:
        return error_page(request, who, exc)
    return render(request, who, template, context, current="/timetables")


@routes.page("GET", "/timetables", roles=READERS, summary="Pupils' timetables and flagged bookings")
async def timetables_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Each pupil with their lesson count and links; bookings a change flagged, soonest first."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        pupils = list(
            await session.scalars(
                select(Pupil)
                .where(Pupil.provider_id == who.provider_id, Pupil.active.is_(True))
                .order_by(Pupil.first_name, Pupil.last_name)
            )
        )
        rows = await session.execute(
            select(LessonRow.pupil_id, func.count())
            .where(LessonRow.pupil_id.in_([p.id for p in pupils]))
            .group_by(LessonRow.pupil_id)
        )
        counts = {pupil_id: int(n) for pupil_id, n in rows}
        mine = select(School).where(School.provider_id == who.provider_id)
        schools = {s.id: s.name for s in await session.scalars(mine)}
        flagged = await list_flagged(session, who, now)
        record_request(request, session, who, "pupil.list", "pupil", "*", {"page": "timetables"})
    names = {p.id: pupil_display_name(p) for p in pupils}
    context = {
        "title": "Timetables",
        "pupils": [
            (p, names[p.id], schools.get(p.school_id, ""), counts.get(p.id, 0)) for p in pupils
        ],
        "flagged": [(b, names.get(b.pupil_id, "")) for b in flagged],
        "can_edit": who.role in WRITERS,
        "schools": sorted(schools.items(), key=lambda item: item[1]),
        "notice": request.query.get("notice", ""),
    }
    return render(request, who, "timetables.html", context)
