"""What the reintegration pages share: the plan page's context, showing it, applying a form."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings.events import HubBookingEvents
from telepresence.platform.errors import DomainError, validation_errors
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS
from telepresence.platform.http.rendering import form_fields, render
from telepresence.platform.models import Pupil, School, zone_of
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import Principal, Role
from telepresence.reintegration import services
from telepresence.reintegration.access import is_contact, readable_plan, visible_pupil
from telepresence.reintegration.domain import Goal, Outcome
from telepresence.reintegration.home_school import contacts, visits
from telepresence.reintegration.reviewing import reviews
from telepresence.reintegration.services import PHASE_LABELS
from telepresence.reintegration.timeline import KINDS, parse_kinds, timeline

__all__ = ["apply_form", "page_of", "plan_context", "problems", "pupil_of_plan", "show_plan"]


def problems(exc: DomainError | ValidationError) -> list[str]:
    if isinstance(exc, ValidationError):
        return [
            f"{e['field'].replace('_', ' ').capitalize()}: {e['message']}"
            for e in validation_errors(exc)
        ]
    return [exc.detail]


async def plan_context(
    request: web.Request, session: AsyncSession, who: Principal, pupil: Pupil
) -> dict[str, Any]:
    plan = await services.current_plan(session, pupil.id)
    school = await session.get(School, pupil.school_id)
    shared_only = is_contact(who)
    kinds = parse_kinds(",".join(request.query.getall("k", [])) or request.query.get("kinds", ""))
    context: dict[str, Any] = {
        "title": f"Return to school: {pupil.first_name} {pupil.last_name[:1]}.",
        "pupil": pupil,
        "school": school,
        "plan": None,
        "phases": PHASE_LABELS,
        "goals": list(Goal),
        "outcomes": list(Outcome),
        "kinds": [k for k in KINDS if not shared_only or k not in {"review", "alert"}],
        "chosen": kinds,
        "form": {},
        "notice": request.query.get("done", ""),
    }
    if plan is None:
        context["can_start"] = who.role is Role.ADMIN or pupil.key_worker_id == who.subject_id
        return context
    record_request(request, session, who, "reintegration.read", "pupil", pupil.id)
    out = await services.plan_out(session, plan)
    actions = await contacts.actions_of(session, plan, shared_only=shared_only)
    context |= {
        "plan": out,
        "is_key_worker": plan.key_worker_id == who.subject_id,
        "actions": actions,
        "contacts": await contacts.contacts_of(session, plan, shared_only=shared_only),
        "visits": await visits.visits_of(session, plan),
        "timeline": await timeline(session, plan, kinds, shared_only=shared_only),
        "zone": zone_of(school),
    }
    if not shared_only:
        context["factors"] = await reviews.factors_of(session, plan.provider_id)
        context["reviews"] = list(reversed(await reviews.reviews_of(session, plan)))
    return context


async def show_plan(
    request: web.Request,
    who: Principal,
    pupil_id: str,
    *,
    errors: list[str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    async with request.app[DATABASE].transaction() as session:
        pupil = await visible_pupil(session, who, pupil_id)
        context = await plan_context(request, session, who, pupil)
    template = "reintegration/school_pupil.html" if is_contact(who) else "reintegration/plan.html"
    context |= {"errors": errors or [], "form": form or {}}
    current = "/school" if is_contact(who) else "/pupils"
    return render(request, who, template, context, status=status, current=current)


def page_of(who: Principal, pupil_id: str) -> str:
    return f"/school/pupils/{pupil_id}" if is_contact(who) else f"/pupils/{pupil_id}/reintegration"


async def apply_form(
    request: web.Request, who: Principal, pupil_id: str, change: Any, done: str
) -> web.StreamResponse:
    """Run ``change(session, form, now)``; on success go back with a notice, else show why.

    Booking events ``change`` returns are published once its transaction committed.
    """
    form = await form_fields(request)
    try:
        async with request.app[DATABASE].transaction() as session:
            events = await change(session, form, request.app[CLOCK].now())
    except (DomainError, ValidationError) as exc:
        status = exc.status if isinstance(exc, DomainError) else 422
        return await show_plan(
            request, who, pupil_id, errors=problems(exc), form=form, status=status
        )
    if events:
        HubBookingEvents(request.app[EVENTS]).publish(events)
    raise web.HTTPSeeOther(f"{page_of(who, pupil_id)}?done={done}")


async def pupil_of_plan(request: web.Request, who: Principal) -> str:
    async with request.app[DATABASE].sessions() as session:
        plan = await readable_plan(session, who, request.match_info["plan_id"])
        return plan.pupil_id
