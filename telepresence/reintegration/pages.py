"""Pages of reintegration: the pupil's plan and timeline (staff), a review, the home school's view.

Forms post here and go through the same services as the API; a refused form
shows the page again with what was wrong (status 4xx) and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings.ports import BookingEvent
from telepresence.platform.errors import DomainError, InvalidInput
from telepresence.platform.http.context import CLOCK, DATABASE, NOTIFIER
from telepresence.platform.http.rendering import form_fields, render
from telepresence.platform.http.routing import Routes, check_origin
from telepresence.platform.models import Pupil, School, zone_of
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import PUBLIC, STAFF, Principal, Role
from telepresence.reintegration import services
from telepresence.reintegration.access import (
    KEY_WORKERS,
    contact_pupil_ids,
    readable_plan,
    require_key_worker,
)
from telepresence.reintegration.forms import (
    contact_from,
    note_from,
    phase_from,
    plan_from,
    review_from,
    visit_from,
)
from telepresence.reintegration.home_school import contacts, visits
from telepresence.reintegration.home_school.invitations import (
    accept_invitation,
    invitation_notice,
    invite_contact,
    open_invitation,
)
from telepresence.reintegration.page_context import (
    apply_form,
    problems,
    pupil_of_plan,
    show_plan,
)
from telepresence.reintegration.records_web import ENGAGEMENT
from telepresence.reintegration.reviewing import reviews
from telepresence.reintegration.services import PHASE_LABELS
from telepresence.reintegration.web import move_phase

__all__ = ["routes"]

routes = Routes("reintegration-pages")
CONTACT_WRITERS = [*KEY_WORKERS, Role.SCHOOL_CONTACT]
PEOPLE = [*STAFF, Role.SCHOOL_CONTACT]


@routes.page(
    "GET",
    "/pupils/{pupil_id}/reintegration",
    roles=STAFF,
    summary="A pupil's reintegration plan and timeline (audited)",
)
async def plan_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Plan, phase, reviews, contacts and actions, visits, notes, and the one timeline."""
    return await show_plan(request, who, request.match_info["pupil_id"])


@routes.page(
    "POST",
    "/pupils/{pupil_id}/reintegration",
    roles=KEY_WORKERS,
    summary="Start a reintegration plan (form)",
)
async def create_plan_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """The pupil's key worker owns the plan."""
    pupil_id = request.match_info["pupil_id"]

    async def change(session: AsyncSession, form: dict[str, str], now: datetime) -> None:
        plan = await services.create_plan(session, who, plan_from(pupil_id, form), now)
        record_request(request, session, who, "reintegration.create", "pupil", plan.pupil_id)

    return await apply_form(request, who, pupil_id, change, "started")


@routes.page(
    "POST",
    "/reintegration/plans/{plan_id}/phase",
    roles=KEY_WORKERS,
    summary="Move a plan to another phase (form)",
)
async def phase_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """A skip or a step back needs a reason."""
    pupil_id = await pupil_of_plan(request, who)

    async def change(
        session: AsyncSession, form: dict[str, str], now: datetime
    ) -> list[BookingEvent]:
        await require_key_worker(session, who, request.match_info["plan_id"])
        _plan, events = await move_phase(request, session, who, phase_from(form), now)
        return events

    return await apply_form(request, who, pupil_id, change, "phase")


@routes.page(
    "POST",
    "/reintegration/plans/{plan_id}/reviews",
    roles=KEY_WORKERS,
    summary="Record a review (form)",
)
async def review_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """Ratings of each factor, notes and decisions."""
    pupil_id = await pupil_of_plan(request, who)

    async def change(session: AsyncSession, form: dict[str, str], now: datetime) -> None:
        await require_key_worker(session, who, request.match_info["plan_id"])
        await reviews.record_review(
            session, who, request.match_info["plan_id"], review_from(form), now
        )

    return await apply_form(request, who, pupil_id, change, "review")


@routes.page(
    "POST",
    "/reintegration/plans/{plan_id}/contacts",
    roles=CONTACT_WRITERS,
    summary="Record a contact and agreed actions (form)",
)
async def contact_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """By the key worker or the home school's contact."""
    pupil_id = await pupil_of_plan(request, who)

    async def change(session: AsyncSession, form: dict[str, str], now: datetime) -> None:
        await contacts.record_contact(
            session, who, request.match_info["plan_id"], contact_from(form), now
        )

    return await apply_form(request, who, pupil_id, change, "contact")


@routes.page(
    "POST", "/reintegration/plans/{plan_id}/notes", roles=KEY_WORKERS, summary="Add a note (form)"
)
async def note_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """Internal, or shared with the home school."""
    pupil_id = await pupil_of_plan(request, who)

    async def change(session: AsyncSession, form: dict[str, str], now: datetime) -> None:
        await require_key_worker(session, who, request.match_info["plan_id"])
        await services.add_note(session, who, request.match_info["plan_id"], note_from(form), now)

    return await apply_form(request, who, pupil_id, change, "note")


@routes.page(
    "POST",
    "/reintegration/plans/{plan_id}/visits",
    roles=KEY_WORKERS,
    summary="Plan an after-care visit (form)",
)
async def visit_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """Date and local times at the school."""
    pupil_id = await pupil_of_plan(request, who)

    async def change(session: AsyncSession, form: dict[str, str], now: datetime) -> None:
        plan = await require_key_worker(session, who, request.match_info["plan_id"])
        school = await session.get(School, plan.school_id)
        zone = zone_of(school)
        await visits.schedule_visit(session, who, plan.id, visit_from(form, zone), now)

    return await apply_form(request, who, pupil_id, change, "visit")


@routes.page(
    "POST",
    "/reintegration/actions/{action_id}/done",
    roles=CONTACT_WRITERS,
    summary="Tick off an action (form)",
)
async def tick_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """Only by the person it was assigned to."""
    pupil_id = (await form_fields(request)).get("pupil_id", "")

    async def change(session: AsyncSession, _form: dict[str, str], now: datetime) -> None:
        await contacts.tick_action(session, who, request.match_info["action_id"], now)

    return await apply_form(request, who, pupil_id, change, "action")


@routes.page(
    "POST",
    "/pupils/{pupil_id}/reintegration/invite",
    roles=KEY_WORKERS,
    summary="Invite the home school's contact (form)",
)
async def invite_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """Emails a link to choose a password."""
    pupil_id = request.match_info["pupil_id"]
    form = await form_fields(request)
    try:
        async with request.app[DATABASE].transaction() as session:
            invited = await invite_contact(
                session,
                who,
                pupil_id,
                form.get("email", ""),
                form.get("name", "") or "School contact",
                request.app[CLOCK].now(),
            )
            record_request(
                request,
                session,
                who,
                "reintegration.invite",
                "pupil",
                pupil_id,
                {"user_id": invited.user.id},
            )
    except DomainError as exc:
        return await show_plan(
            request, who, pupil_id, errors=problems(exc), form=form, status=exc.status
        )
    await request.app[NOTIFIER].notify(invitation_notice(invited, who.display_name))
    raise web.HTTPSeeOther(f"/pupils/{pupil_id}/reintegration?done=invited")


@routes.page(
    "GET",
    "/reintegration/reviews/{review_id}",
    roles=STAFF,
    summary="A review: ratings moved and engagement since the last (audited)",
)
async def review_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Hospital school only."""
    async with request.app[DATABASE].transaction() as session:
        review = await reviews.get_review(session, who, request.match_info["review_id"])
        plan = await readable_plan(session, who, review.plan_id)
        pupil = await session.get(Pupil, plan.pupil_id)
        out = await reviews.review_out(session, review, request.app.get(ENGAGEMENT))
        record_request(request, session, who, "reintegration.review", "pupil", plan.pupil_id)
    assert pupil is not None
    context = {"title": f"Review of {review.held_on:%d %B %Y}", "review": out, "pupil": pupil}
    return render(request, who, "reintegration/review.html", context, current="/pupils")


@routes.page(
    "GET", "/school", roles=[Role.SCHOOL_CONTACT], summary="The home school contact's pupils"
)
async def school_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Only pupils they were invited for, of their school, on roll."""
    async with request.app[DATABASE].transaction() as session:
        rows = []
        for pupil_id in await contact_pupil_ids(session, who):
            pupil = await session.get(Pupil, pupil_id)
            plan = await services.current_plan(session, pupil_id)
            rows.append((pupil, await services.plan_out(session, plan) if plan else None))
    context = {"title": "Our pupils", "rows": rows, "phases": PHASE_LABELS}
    return render(request, who, "reintegration/school.html", context)


@routes.page(
    "GET",
    "/school/pupils/{pupil_id}",
    roles=[Role.SCHOOL_CONTACT],
    summary="A pupil's plan as shared with the home school (audited)",
)
async def school_pupil_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """The plan, agreed actions, shared notes and contacts, lessons joined: never medical detail."""
    return await show_plan(request, who, request.match_info["pupil_id"])


@routes.page(
    "GET", "/invitations/{token}", roles=PUBLIC, summary="Accept an invitation: choose a password"
)
async def invitation_page(request: web.Request, _who: Principal | None) -> web.StreamResponse:
    """A used or expired link says so."""
    async with request.app[DATABASE].sessions() as session:
        await open_invitation(session, request.match_info["token"], request.app[CLOCK].now())
    return render(request, None, "reintegration/invitation.html", {"title": "Choose your password"})


@routes.page("POST", "/invitations/{token}", roles=PUBLIC, summary="Accept an invitation (form)")
async def invitation_submit(request: web.Request, _who: Principal | None) -> web.StreamResponse:
    """Then sign in with the email and the new password."""
    check_origin(request)
    form = await form_fields(request)
    if form.get("password", "") != form.get("confirm", ""):
        errors = ["The two passwords are not the same."]
        return render(
            request,
            None,
            "reintegration/invitation.html",
            {"title": "Choose your password", "errors": errors},
            status=422,
        )
    try:
        async with request.app[DATABASE].transaction() as session:
            await accept_invitation(
                session,
                request.match_info["token"],
                form.get("password", ""),
                request.app[CLOCK].now(),
            )
    except InvalidInput as exc:
        return render(
            request,
            None,
            "reintegration/invitation.html",
            {"title": "Choose your password", "errors": [exc.detail]},
            status=422,
        )
    raise web.HTTPSeeOther("/login?next=/school")
