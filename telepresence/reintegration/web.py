"""HTTP API of the plan: create, read, change, phases, notes, timeline, invitations, settings.

Every read of a plan is a read of a pupil's record and is audited.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings.events import HubBookingEvents
from scheduler.bookings.ports import BookingEvent
from telepresence.platform.errors import NotFound
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS, NOTIFIER
from telepresence.platform.http.routing import Routes
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import STAFF, Principal, Role
from telepresence.reintegration import services
from telepresence.reintegration.access import (
    KEY_WORKERS,
    READERS,
    is_contact,
    readable_plan,
    visible_pupil,
)
from telepresence.reintegration.bookings import follow_phase
from telepresence.reintegration.home_school.invitations import invitation_notice, invite_contact
from telepresence.reintegration.models import NoteRow, PlanRow
from telepresence.reintegration.schemas import (
    InviteIn,
    InviteOut,
    NoteIn,
    NoteOut,
    PhaseIn,
    PlanIn,
    PlanOut,
    PlanPatch,
    RulesIn,
    RulesOut,
    TimelineItem,
    TimelineQuery,
)
from telepresence.reintegration.timeline import parse_kinds, timeline

__all__ = ["audit_read", "move_phase", "read_plan", "routes"]

routes = Routes("reintegration")
SETTERS = [Role.ADMIN, Role.COORDINATOR]


def audit_read(
    request: web.Request, session: AsyncSession, who: Principal, plan: PlanRow, what: str
) -> None:
    """Audit a read of a pupil's reintegration record."""
    record_request(
        request, session, who, f"reintegration.{what}", "pupil", plan.pupil_id, {"plan_id": plan.id}
    )


async def read_plan(
    request: web.Request, session: AsyncSession, who: Principal, what: str
) -> PlanRow:
    """The plan in the path (``{plan_id}``) if the caller may read it (``readable_plan``),
    its read audited as ``reintegration.{what}``."""
    plan = await readable_plan(session, who, request.match_info["plan_id"])
    audit_read(request, session, who, plan, what)
    return plan


async def move_phase(
    request: web.Request, session: AsyncSession, who: Principal, body: PhaseIn, now: datetime
) -> tuple[PlanRow, list[BookingEvent]]:
    """Move the plan in the path (``{plan_id}``) to ``body``'s phase and follow it in the
    bookings (``follow_phase``), audited as ``reintegration.phase``; the caller publishes
    the events once its transaction commits."""
    plan = await services.change_phase(session, who, request.match_info["plan_id"], body, now)
    events = await follow_phase(session, who, plan, now)
    details = {"phase": plan.phase, "bookings_cancelled": len(events)}
    record_request(request, session, who, "reintegration.phase", "pupil", plan.pupil_id, details)
    return plan, events


def _note_out(n: NoteRow) -> NoteOut:
    return NoteOut(id=n.id, at=n.at, author_name=n.author_name, text=n.text, shared=n.shared)


@routes.api(
    "POST",
    "/api/reintegration/plans",
    roles=KEY_WORKERS,
    body=PlanIn,
    response=PlanOut,
    status=201,
    errors=(403, 404, 409, 422),
    summary="Start a pupil's reintegration plan (their key worker)",
)
async def create_plan(request: web.Request, who: Principal, body: PlanIn) -> PlanOut:
    """Starts in 'remote lessons only'; one open plan per pupil."""
    async with request.app[DATABASE].transaction() as session:
        plan = await services.create_plan(session, who, body, request.app[CLOCK].now())
        record_request(request, session, who, "reintegration.create", "pupil", plan.pupil_id)
        return await services.plan_out(session, plan)


@routes.api(
    "GET",
    "/api/reintegration/plans",
    roles=READERS,
    response=list[PlanOut],
    errors=(403,),
    summary="Plans I may see (the provider's, or a school contact's own pupils')",
)
async def list_plans(request: web.Request, who: Principal) -> list[PlanOut]:
    """Newest first."""
    async with request.app[DATABASE].transaction() as session:
        plans = await services.list_plans(session, who)
        for plan in plans:
            audit_read(request, session, who, plan, "list")
        return [await services.plan_out(session, p) for p in plans]


@routes.api(
    "GET",
    "/api/reintegration/pupils/{pupil_id}/plan",
    roles=READERS,
    response=PlanOut,
    errors=(403, 404),
    summary="A pupil's current plan (audited)",
)
async def pupil_plan(request: web.Request, who: Principal) -> PlanOut:
    """The open plan, or else the latest closed one."""
    async with request.app[DATABASE].transaction() as session:
        pupil = await visible_pupil(session, who, request.match_info["pupil_id"])
        plan = await services.current_plan(session, pupil.id)
        if plan is None:
            raise NotFound("This pupil has no reintegration plan yet.")
        audit_read(request, session, who, plan, "read")
        return await services.plan_out(session, plan)


@routes.api(
    "GET",
    "/api/reintegration/plans/{plan_id}",
    roles=READERS,
    response=PlanOut,
    errors=(403, 404),
    summary="One plan (audited)",
)
async def get_plan(request: web.Request, who: Principal) -> PlanOut:
    """School contacts see only their own school's pupils while on roll."""
    async with request.app[DATABASE].transaction() as session:
        plan = await read_plan(request, session, who, "read")
        return await services.plan_out(session, plan)


@routes.api(
    "PATCH",
    "/api/reintegration/plans/{plan_id}",
    roles=KEY_WORKERS,
    body=PlanPatch,
    response=PlanOut,
    errors=(403, 404, 409, 422),
    summary="Change a plan's goal, duration or review dates (key worker)",
)
async def update_plan(request: web.Request, who: Principal, body: PlanPatch) -> PlanOut:
    """The change, with the values before, goes on the plan's history."""
    async with request.app[DATABASE].transaction() as session:
        plan = await services.update_plan(
            session, who, request.match_info["plan_id"], body, request.app[CLOCK].now()
        )
        record_request(request, session, who, "reintegration.update", "pupil", plan.pupil_id)
        return await services.plan_out(session, plan)


@routes.api(
    "POST",
    "/api/reintegration/plans/{plan_id}/phase",
    roles=KEY_WORKERS,
    body=PhaseIn,
    response=PlanOut,
    errors=(403, 404, 409, 422),
    summary="Move a plan to another phase (a skip or a step back needs a reason)",
)
async def change_phase(request: web.Request, who: Principal, body: PhaseIn) -> PlanOut:
    """A phased return names the weekdays or lessons in school; closing names the outcome.

    Future bookings in time now spent in school are cancelled (the rota then
    stops moving the robot for them) and new remote bookings on those
    weekdays are refused by the scheduler ("In school" unavailability).
    """
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        plan, events = await move_phase(request, session, who, body, now)
        out = await services.plan_out(session, plan)
    HubBookingEvents(request.app[EVENTS]).publish(events)
    return out


@routes.api(
    "GET",
    "/api/reintegration/plans/{plan_id}/timeline",
    roles=READERS,
    query=TimelineQuery,
    response=list[TimelineItem],
    errors=(403, 404, 422),
    summary="The pupil's timeline, newest first, filtered by kind (audited)",
)
async def plan_timeline(
    request: web.Request, who: Principal, query: TimelineQuery
) -> list[TimelineItem]:
    """A school contact sees only what is shared with the home school."""
    kinds = parse_kinds(query.kinds)
    async with request.app[DATABASE].transaction() as session:
        plan = await read_plan(request, session, who, "timeline")
        return await timeline(session, plan, kinds, shared_only=is_contact(who))


@routes.api(
    "POST",
    "/api/reintegration/plans/{plan_id}/notes",
    roles=KEY_WORKERS,
    body=NoteIn,
    response=NoteOut,
    status=201,
    errors=(403, 404, 422),
    summary="Add a note: internal, or shared with the home school (key worker)",
)
async def add_note(request: web.Request, who: Principal, body: NoteIn) -> NoteOut:
    """Shared notes are what the home school's contact reads."""
    async with request.app[DATABASE].transaction() as session:
        note = await services.add_note(
            session, who, request.match_info["plan_id"], body, request.app[CLOCK].now()
        )
        return _note_out(note)


@routes.api(
    "GET",
    "/api/reintegration/plans/{plan_id}/notes",
    roles=READERS,
    response=list[NoteOut],
    errors=(403, 404),
    summary="The plan's notes (only shared ones for the home school; audited)",
)
async def list_notes(request: web.Request, who: Principal) -> list[NoteOut]:
    """Newest first."""
    async with request.app[DATABASE].transaction() as session:
        plan = await read_plan(request, session, who, "notes")
        notes = await services.notes_of(session, plan, shared_only=is_contact(who))
        return [_note_out(n) for n in notes]


@routes.api(
    "POST",
    "/api/reintegration/pupils/{pupil_id}/school-contacts",
    roles=KEY_WORKERS,
    body=InviteIn,
    response=InviteOut,
    status=201,
    errors=(404, 409, 422),
    summary="Invite the home school's contact for this pupil by email",
)
async def invite(request: web.Request, who: Principal, body: InviteIn) -> InviteOut:
    """A new account gets a one-time link to choose a password (emailed; shown here once)."""
    async with request.app[DATABASE].transaction() as session:
        invited = await invite_contact(
            session,
            who,
            request.match_info["pupil_id"],
            str(body.email),
            body.name,
            request.app[CLOCK].now(),
        )
        record_request(
            request,
            session,
            who,
            "reintegration.invite",
            "pupil",
            invited.pupil.id,
            {"user_id": invited.user.id},
        )
    notice = invitation_notice(invited, who.display_name)
    notified = await request.app[NOTIFIER].notify(notice)
    return InviteOut(
        user_id=invited.user.id,
        email=invited.user.email,
        invite_link=notice.link or "",
        notified=notified,
    )


@routes.api(
    "GET",
    "/api/reintegration/rules",
    roles=STAFF,
    response=RulesOut,
    summary="The provider's reintegration alert settings",
)
async def get_rules(request: web.Request, who: Principal) -> RulesOut:
    """Days without home-school contact before an alert; days of review reminder."""
    assert who.provider_id is not None
    async with request.app[DATABASE].sessions() as session:
        rules = await services.rules_of(session, who.provider_id)
        return RulesOut(
            no_contact_days=rules.no_contact_days, review_remind_days=rules.review_remind_days
        )


@routes.api(
    "PUT",
    "/api/reintegration/rules",
    roles=SETTERS,
    body=RulesIn,
    response=RulesOut,
    errors=(422,),
    summary="Set the provider's reintegration alert settings",
)
async def put_rules(request: web.Request, who: Principal, body: RulesIn) -> RulesOut:
    """Applies from the next run of the alert jobs."""
    async with request.app[DATABASE].transaction() as session:
        rules = await services.set_rules(session, who, body)
        record_request(request, session, who, "reintegration.rules", "provider", rules.provider_id)
        return RulesOut(
            no_contact_days=rules.no_contact_days, review_remind_days=rules.review_remind_days
        )
