"""HTTP API of what is recorded on a plan: readiness factors, reviews, contacts, actions, visits."""

from __future__ import annotations

import secrets

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import select

from telepresence.platform.errors import NotFound
from telepresence.platform.http.context import CLOCK, DATABASE
from telepresence.platform.http.routing import Routes
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import PUBLIC, STAFF, Principal, Role, hash_token
from telepresence.reintegration.access import KEY_WORKERS, READERS, is_contact, readable_plan
from telepresence.reintegration.home_school import contacts, visits
from telepresence.reintegration.models import FactorRow, VisitFeed
from telepresence.reintegration.reviewing import reviews
from telepresence.reintegration.reviewing.ports import EngagementFigures
from telepresence.reintegration.schemas import (
    ActionOut,
    ContactIn,
    ContactOut,
    FactorIn,
    FactorOut,
    FactorPatch,
    ReviewIn,
    ReviewOut,
    VisitIn,
    VisitOut,
    VisitRecordIn,
)
from telepresence.reintegration.web import SETTERS, audit_read, read_plan

__all__ = ["ENGAGEMENT", "FeedOut", "routes"]

routes = Routes("reintegration")
ENGAGEMENT: web.AppKey[EngagementFigures] = web.AppKey("reintegration_engagement")
"""Set by the composition root when the engagement package provides figures."""
CONTACT_WRITERS = [*KEY_WORKERS, Role.SCHOOL_CONTACT]


def _factor_out(row: FactorRow) -> FactorOut:
    return FactorOut(id=row.id, group=row.group, label=row.label, retired=row.retired)


@routes.api(
    "GET",
    "/api/reintegration/factors",
    roles=STAFF,
    response=list[FactorOut],
    summary="The provider's readiness factors (the starting list until edited)",
)
async def list_factors(request: web.Request, who: Principal) -> list[FactorOut]:
    """Retired factors included, flagged."""
    assert who.provider_id is not None
    async with request.app[DATABASE].transaction() as session:
        rows = await reviews.factors_of(session, who.provider_id, include_retired=True)
        return [_factor_out(r) for r in rows]


@routes.api(
    "POST",
    "/api/reintegration/factors",
    roles=SETTERS,
    body=FactorIn,
    response=FactorOut,
    status=201,
    errors=(409, 422),
    summary="Add a readiness factor",
)
async def add_factor(request: web.Request, who: Principal, body: FactorIn) -> FactorOut:
    """Added at the end of its provider's list."""
    async with request.app[DATABASE].transaction() as session:
        row = await reviews.add_factor(session, who, body)
        record_request(request, session, who, "reintegration.factor", "factor", row.id)
        return _factor_out(row)


@routes.api(
    "PATCH",
    "/api/reintegration/factors/{factor_id}",
    roles=SETTERS,
    body=FactorPatch,
    response=FactorOut,
    errors=(404, 422),
    summary="Rename or retire a readiness factor",
)
async def update_factor(request: web.Request, who: Principal, body: FactorPatch) -> FactorOut:
    """Past reviews keep their ratings of a retired factor."""
    async with request.app[DATABASE].transaction() as session:
        row = await reviews.update_factor(session, who, request.match_info["factor_id"], body)
        record_request(request, session, who, "reintegration.factor", "factor", row.id)
        return _factor_out(row)


@routes.api(
    "POST",
    "/api/reintegration/plans/{plan_id}/reviews",
    roles=KEY_WORKERS,
    body=ReviewIn,
    response=ReviewOut,
    status=201,
    errors=(403, 404, 409, 422),
    summary="Record a review: readiness ratings and decisions (key worker)",
)
async def record_review(request: web.Request, who: Principal, body: ReviewIn) -> ReviewOut:
    """Answers with how each rating moved since the previous review."""
    async with request.app[DATABASE].transaction() as session:
        review = await reviews.record_review(
            session, who, request.match_info["plan_id"], body, request.app[CLOCK].now()
        )
        return await reviews.review_out(session, review, request.app.get(ENGAGEMENT))


@routes.api(
    "GET",
    "/api/reintegration/plans/{plan_id}/reviews",
    roles=STAFF,
    response=list[ReviewOut],
    errors=(404,),
    summary="The plan's reviews, oldest first (hospital school only; audited)",
)
async def list_reviews(request: web.Request, who: Principal) -> list[ReviewOut]:
    """Each with its movement against the one before."""
    async with request.app[DATABASE].transaction() as session:
        plan = await read_plan(request, session, who, "reviews")
        engagement = request.app.get(ENGAGEMENT)
        return [
            await reviews.review_out(session, r, engagement)
            for r in await reviews.reviews_of(session, plan)
        ]


@routes.api(
    "GET",
    "/api/reintegration/reviews/{review_id}",
    roles=STAFF,
    response=ReviewOut,
    errors=(404,),
    summary="One review with ratings moved and engagement since the previous one (audited)",
)
async def get_review(request: web.Request, who: Principal) -> ReviewOut:
    """Hospital school only: readiness notes are not shared with the home school."""
    async with request.app[DATABASE].transaction() as session:
        review = await reviews.get_review(session, who, request.match_info["review_id"])
        plan = await readable_plan(session, who, review.plan_id)
        audit_read(request, session, who, plan, "review")
        return await reviews.review_out(session, review, request.app.get(ENGAGEMENT))


@routes.api(
    "POST",
    "/api/reintegration/plans/{plan_id}/contacts",
    roles=CONTACT_WRITERS,
    body=ContactIn,
    response=ContactOut,
    status=201,
    errors=(403, 404, 409, 422),
    summary="Record a contact with the home school or parents/carers, with agreed actions",
)
async def record_contact(request: web.Request, who: Principal, body: ContactIn) -> ContactOut:
    """The key worker or the home school's contact (whose records are always shared)."""
    async with request.app[DATABASE].transaction() as session:
        contact = await contacts.record_contact(
            session, who, request.match_info["plan_id"], body, request.app[CLOCK].now()
        )
        plan = await readable_plan(session, who, contact.plan_id)
        actions = await contacts.actions_of(session, plan, shared_only=False)
        return contacts.contact_out(contact, actions)


@routes.api(
    "GET",
    "/api/reintegration/plans/{plan_id}/contacts",
    roles=READERS,
    response=list[ContactOut],
    errors=(403, 404),
    summary="The contacts log, newest first (only shared contacts for the home school; audited)",
)
async def list_contacts(request: web.Request, who: Principal) -> list[ContactOut]:
    """With the actions agreed at each."""
    shared_only = is_contact(who)
    async with request.app[DATABASE].transaction() as session:
        plan = await read_plan(request, session, who, "contacts")
        actions = await contacts.actions_of(session, plan, shared_only=shared_only)
        rows = await contacts.contacts_of(session, plan, shared_only=shared_only)
        return [contacts.contact_out(c, actions) for c in rows]


@routes.api(
    "GET",
    "/api/reintegration/plans/{plan_id}/actions",
    roles=READERS,
    response=list[ActionOut],
    errors=(403, 404),
    summary="Agreed actions, open first (the home school sees those of shared contacts)",
)
async def list_actions(request: web.Request, who: Principal) -> list[ActionOut]:
    """Open while not ticked off."""
    async with request.app[DATABASE].transaction() as session:
        plan = await read_plan(request, session, who, "actions")
        rows = await contacts.actions_of(session, plan, shared_only=is_contact(who))
        return [contacts.action_out(a) for a in rows]


@routes.api(
    "POST",
    "/api/reintegration/actions/{action_id}/done",
    roles=CONTACT_WRITERS,
    response=ActionOut,
    errors=(403, 404, 409),
    summary="Tick off an agreed action (only by the person it was assigned to)",
)
async def tick_action(request: web.Request, who: Principal) -> ActionOut:
    """Key worker actions by the key worker; school actions by the home school's contact."""
    async with request.app[DATABASE].transaction() as session:
        action = await contacts.tick_action(
            session, who, request.match_info["action_id"], request.app[CLOCK].now()
        )
        return contacts.action_out(action)


@routes.api(
    "POST",
    "/api/reintegration/plans/{plan_id}/visits",
    roles=KEY_WORKERS,
    body=VisitIn,
    response=VisitOut,
    status=201,
    errors=(403, 404, 409, 422),
    summary="Plan an after-care visit (not in the past, not on a closed school day)",
)
async def schedule_visit(request: web.Request, who: Principal, body: VisitIn) -> VisitOut:
    """The school's own calendar (terms, closures) decides which days are open."""
    async with request.app[DATABASE].transaction() as session:
        visit = await visits.schedule_visit(
            session, who, request.match_info["plan_id"], body, request.app[CLOCK].now()
        )
        return visits.visit_out(visit)


@routes.api(
    "GET",
    "/api/reintegration/plans/{plan_id}/visits",
    roles=READERS,
    response=list[VisitOut],
    errors=(403, 404),
    summary="The plan's after-care visits (notes only for the hospital school)",
)
async def list_visits(request: web.Request, who: Principal) -> list[VisitOut]:
    """By start time."""
    async with request.app[DATABASE].transaction() as session:
        plan = await read_plan(request, session, who, "visits")
        out = [visits.visit_out(v) for v in await visits.visits_of(session, plan)]
        if is_contact(who):
            out = [v.model_copy(update={"notes": ""}) for v in out]
        return out


@routes.api(
    "PATCH",
    "/api/reintegration/visits/{visit_id}",
    roles=KEY_WORKERS,
    body=VisitIn,
    response=VisitOut,
    errors=(403, 404, 409, 422),
    summary="Move a planned visit (key worker)",
)
async def revise_visit(request: web.Request, who: Principal, body: VisitIn) -> VisitOut:
    """Same rules as planning one; the calendar event's sequence goes up."""
    async with request.app[DATABASE].transaction() as session:
        visit = await visits.revise_visit(
            session, who, request.match_info["visit_id"], body, request.app[CLOCK].now()
        )
        return visits.visit_out(visit)


@routes.api(
    "POST",
    "/api/reintegration/visits/{visit_id}/record",
    roles=KEY_WORKERS,
    body=VisitRecordIn,
    response=VisitOut,
    errors=(403, 404, 409, 422),
    summary="Record a visit's notes (done) or that it was cancelled (key worker)",
)
async def record_visit(request: web.Request, who: Principal, body: VisitRecordIn) -> VisitOut:
    """Visit notes stay with the hospital school."""
    async with request.app[DATABASE].transaction() as session:
        visit = await visits.record_visit(
            session, who, request.match_info["visit_id"], body, request.app[CLOCK].now()
        )
        return visits.visit_out(visit)


class FeedOut(BaseModel):
    """The private calendar address of my visits (shown once)."""

    url: str


@routes.api(
    "POST",
    "/api/reintegration/visit-feed",
    roles=[Role.HOSPITAL_STAFF],
    response=FeedOut,
    status=201,
    summary="A new private calendar address for my after-care visits (the old one stops)",
)
async def new_visit_feed(request: web.Request, who: Principal) -> FeedOut:
    """Subscribe to it in a calendar app; anyone with the address can read the visits."""
    token = secrets.token_urlsafe(32)
    async with request.app[DATABASE].transaction() as session:
        row = await session.get(VisitFeed, who.subject_id)
        if row is None:
            row = VisitFeed(
                user_id=who.subject_id, token_hash="", created_at=request.app[CLOCK].now()
            )
            session.add(row)
        row.token_hash = hash_token(token)
        row.created_at = request.app[CLOCK].now()
    return FeedOut(url=f"/reintegration/visits/{token}.ics")


@routes.page(
    "GET",
    "/reintegration/visits/{token}.ics",
    roles=PUBLIC,
    summary="A key worker's visits (iCalendar)",
)
async def visit_feed(request: web.Request, _who: Principal | None) -> web.StreamResponse:
    """Unknown or replaced addresses are 404."""
    digest = hash_token(request.match_info["token"])
    async with request.app[DATABASE].sessions() as session:
        row = await session.scalar(select(VisitFeed).where(VisitFeed.token_hash == digest))
        if row is None:
            raise NotFound("There is no such calendar.")
        rows = await visits.visits_of_key_worker(session, row.user_id)
    body = visits.visits_calendar(rows, request.app[CLOCK].now())
    return web.Response(body=body, content_type="text/calendar", charset="utf-8")
