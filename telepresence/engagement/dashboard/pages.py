"""The coordinator's dashboard (``/engagement``) and a pupil's engagement page.

Coordinators and administrators see their provider's pupils, hospital staff the
pupils they are key worker of; assistants are refused by the routes' roles.
Every read is audited in the same transaction as the read. A bad range shows
the page again with the filter and what was wrong (422), and reads nothing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.timetables.calendar import SchoolCalendar
from scheduler.timetables.repository import load_calendar
from telepresence.engagement import access
from telepresence.engagement.dashboard import charts, moves, views
from telepresence.engagement.dashboard.periods import Period, parse_range
from telepresence.engagement.domain import describe
from telepresence.platform.errors import InvalidInput
from telepresence.platform.http.context import CLOCK, DATABASE, SETTINGS
from telepresence.platform.http.rendering import render
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import Pupil, School
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import Principal

__all__ = ["READERS", "pupil_calendar", "routes", "template_helpers"]

routes = Routes("engagement-dashboard")
READERS = list(access.READERS)


def template_helpers(request: web.Request) -> dict[str, Any]:
    """What the engagement templates use besides their context."""
    return {
        "attended_share": request.app[SETTINGS].engagement_attended_share,
        "charts": charts,
        "describe": describe,
        "number": charts.number,
        "percent": charts.percent,
        "subject_rows": views.subject_rows,
        "move_rows": views.move_rows,
        "move_links": views.move_links,
        "subject_links": views.subject_links,
        "moves_link": views.moves_link,
        "robot_bars": views.robot_bars,
    }


async def pupil_calendar(db: AsyncSession, school_id: str) -> SchoolCalendar | None:
    """The calendar of the pupil's school (for "this term")."""
    school = await db.get(School, school_id)
    return await load_calendar(db, school) if school else None


async def _calendar_for(
    db: AsyncSession, who: Principal, school_id: str | None
) -> SchoolCalendar | None:
    """The calendar "this term" is read from: the chosen school's, else the provider's first."""
    query = select(School.id).where(School.provider_id == who.provider_id)
    if school_id:
        query = query.where(School.id == school_id)
    first = await db.scalar(query.order_by(School.name).limit(1))
    return await pupil_calendar(db, first) if first else None


@routes.page("GET", "/engagement", roles=READERS, summary="Engagement dashboard (audited)")
async def engagement_dashboard(request: web.Request, who: Principal) -> web.Response:
    """Who is drifting and why, weekly share attended, subjects, schools, robots, moves."""
    today = request.app[CLOCK].now().date()
    form = dict(request.query)
    async with request.app[DATABASE].transaction() as db:
        schools = await _schools(db, who)
        pupils = await _pupils(db, who, form.get("school"))
        choices = {"schools": schools, "pupils": pupils}
        try:
            cal = await _calendar_for(db, who, form.get("school"))
            rng = parse_range(form, today, cal)
        except InvalidInput as exc:
            return _refused(request, who, "dashboard.html", form, exc, choices)
        board = await views.dashboard(db, who, rng, today)
        record_request(
            request, db, who, "engagement.dashboard", "provider", str(who.provider_id),
            {"start": rng.start.isoformat(), "end": rng.end.isoformat(),
             "school_id": rng.school_id, "pupil_id": rng.pupil_id, "pupils": len(board.pupils)},
        )  # fmt: skip
    context = {"title": "Engagement", "board": board, "range": rng} | choices
    return render(
        request, who, "dashboard.html", context | _base(request, form), current="/engagement"
    )


@routes.page(
    "GET", "/engagement/pupils/{pupil_id}", roles=READERS, summary="A pupil's engagement (audited)"
)
async def pupil_engagement_page(request: web.Request, who: Principal) -> web.Response:
    """Weeks, subjects, each lesson's outcome in words, open alerts."""
    today = request.app[CLOCK].now().date()
    form = dict(request.query)
    async with request.app[DATABASE].transaction() as db:
        pupil = await access.visible_pupil(db, who, request.match_info["pupil_id"])
        try:
            rng = parse_range(form, today, await pupil_calendar(db, pupil.school_id))
        except InvalidInput as exc:
            return _refused(
                request, who, "pupil_engagement.html", form, exc, {"page": None, "subject": ""}
            )
        page = await views.pupil_page(db, who, pupil.id, rng)
        record_request(
            request, db, who, "engagement.read", "pupil", pupil.id,
            {"start": rng.start.isoformat(), "end": rng.end.isoformat(), "page": "engagement"},
        )  # fmt: skip
    # A subject's bar opens its lessons: the list narrowed to it, the figures still the whole.
    subject = form.get("subject", "").strip()[:100]
    if subject:
        page.lessons = [lesson for lesson in page.lessons if lesson.subject == subject]
    context = {"title": page.pupil.first_name, "page": page, "range": rng, "subject": subject}
    return render(
        request, who, "pupil_engagement.html", context | _base(request, form), current="/engagement"
    )


@routes.page(
    "GET",
    "/engagement/schools/{school_id}/moves",
    roles=READERS,
    summary="The robot moves behind a school's punctuality (audited)",
)
async def school_moves_page(request: web.Request, who: Principal) -> web.Response:
    """Each move of the school in the period, on time, late, not done or open (``kind``
    lists one of them), linking to its day's rota, its robot and its pupil."""
    today = request.app[CLOCK].now().date()
    form = dict(request.query)
    school_id = request.match_info["school_id"]
    async with request.app[DATABASE].transaction() as db:
        try:
            rng = parse_range(form, today, await _calendar_for(db, who, school_id))
            kind = _kind(form.get("kind"))
        except InvalidInput as exc:
            return _refused(
                request, who, "school_moves.html", form, exc, {"moves": None, "kind": None}
            )
        found = await moves.school_moves(db, who, school_id, rng, kind)
        record_request(
            request, db, who, "engagement.moves", "school", found.school.id,
            {"start": rng.start.isoformat(), "end": rng.end.isoformat(), "moves": len(found.lines)},
        )  # fmt: skip
    context = {"title": f"Robot moves · {found.school.name}", "moves": found, "range": rng}
    context |= {"kind": kind, "kinds": moves.Kind}
    return render(
        request, who, "school_moves.html", context | _base(request, form), current="/engagement"
    )


def _kind(text: str | None) -> moves.Kind | None:
    if not text:
        return None
    try:
        return moves.Kind(text)
    except ValueError:
        raise InvalidInput(
            "Choose on time, late, not done or open.",
            errors=[{"field": "kind", "message": "unknown kind of move"}],
        ) from None


async def _schools(db: AsyncSession, who: Principal) -> list[tuple[str, str]]:
    rows = await db.scalars(
        select(School).where(School.provider_id == who.provider_id).order_by(School.name)
    )
    return [(s.id, s.name) for s in rows]


async def _pupils(db: AsyncSession, who: Principal, school_id: str | None) -> list[tuple[str, str]]:
    """The pupils the caller may see (of the chosen school), for the filter, by name."""
    query = select(Pupil.id, Pupil.first_name, Pupil.last_name).where(
        Pupil.provider_id == who.provider_id
    )
    if school_id:
        query = query.where(Pupil.school_id == school_id[:32])
    allowed = await access.visible_pupil_ids(db, who)
    if allowed is not None:
        query = query.where(Pupil.id.in_(sorted(allowed)))
    rows = await db.execute(query.order_by(Pupil.first_name, Pupil.last_name, Pupil.id))
    return [(pupil_id, f"{first} {last}") for pupil_id, first, last in rows.all()]


def _base(request: web.Request, form: dict[str, str]) -> dict[str, Any]:
    return template_helpers(request) | {
        "form": form,
        "periods": Period,
        "problem": "",
        "request_path": request.path,
    }


def _refused(
    request: web.Request,
    who: Principal,
    template: str,
    form: dict[str, str],
    exc: InvalidInput,
    extra: dict[str, Any],
) -> web.Response:
    context = (
        _base(request, form) | extra | {"title": "Engagement", "problem": exc.detail, "range": None}
    )
    return render(request, who, template, context, status=422, current="/engagement")
