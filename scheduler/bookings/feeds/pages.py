"""A pupil's bookings as a public iCalendar feed, and the staff page that creates and revokes it."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from scheduler.bookings.feeds import services as feeds
from scheduler.timetables.pages import READERS, WRITERS, error_page, pupil_page
from scheduler.timetables.repository import pupil_display_name, visible_pupil
from telepresence.platform.errors import DomainError, NotFound
from telepresence.platform.http.context import CLOCK, DATABASE, SETTINGS
from telepresence.platform.http.rendering import render
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import School, zone_of
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import PUBLIC, Principal

__all__ = ["routes"]

routes = Routes("timetables")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


@routes.api(
    "GET",
    "/feeds/pupils/{token}.ics",
    roles=PUBLIC,
    errors=(404,),
    summary="A pupil's bookings as an iCalendar feed (secret URL; 404 once revoked)",
)
async def pupil_feed(request: web.Request, _who: Principal | None) -> web.StreamResponse:
    """``text/calendar``, one VEVENT per live booking, times in UTC."""
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        raise NotFound("There is no such calendar feed.")
    async with request.app[DATABASE].transaction() as session:
        _pupil_id, body = await feeds.feed_contents(session, token, request.app[CLOCK].now())
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={
            "Cache-Control": "private, max-age=300",
            "Content-Disposition": 'inline; filename="lessons.ics"',
            "Referrer-Policy": "no-referrer",
        },
    )


def _urls(request: web.Request, token: str) -> tuple[str, str]:
    url = f"{request.app[SETTINGS].base_url.rstrip('/')}/feeds/pupils/{token}.ics"
    return url, re.sub(r"^https?://", "webcal://", url)


async def _context(request: web.Request, who: Principal, pupil_id: str) -> dict[str, Any]:
    async with request.app[DATABASE].sessions() as session:
        pupil = await visible_pupil(session, who, pupil_id)
        feed = await feeds.live_feed(session, who, pupil.id)
        school = await session.get(School, pupil.school_id)
    return {
        "zone": zone_of(school),
        "title": f"{pupil_display_name(pupil)}: calendar feed",
        "pupil": pupil,
        "pupil_name": pupil_display_name(pupil),
        "feed": feed,
        "url": "",
        "webcal": "",
        "can_edit": who.role in WRITERS,
        "notice": "The feed is revoked." if request.query.get("notice") == "revoked" else "",
    }


@routes.page(
    "GET",
    "/pupils/{pupil_id}/calendar-feed",
    roles=READERS,
    summary="Whether a pupil's calendar feed is live; create or revoke it",
)
async def feed_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """The URL itself is shown only when it is created."""
    return await pupil_page(request, who, _context, "calendar_feed.html")


@routes.page(
    "POST",
    "/pupils/{pupil_id}/calendar-feed",
    roles=WRITERS,
    summary="Create a new calendar feed URL (revokes the previous one)",
)
async def feed_create(request: web.Request, who: Principal) -> web.StreamResponse:
    """Shows the new URL once; it is stored only hashed."""
    pupil_id = request.match_info["pupil_id"]
    try:
        async with request.app[DATABASE].transaction() as session:
            feed, token = await feeds.create_feed(session, who, pupil_id, request.app[CLOCK].now())
            record_request(request, session, who, "feed.create", "pupil", pupil_id)
        context = await _context(request, who, pupil_id)
    except DomainError as exc:
        return error_page(request, who, exc)
    url, webcal = _urls(request, token)
    context |= {"feed": feed, "url": url, "webcal": webcal}
    return render(request, who, "calendar_feed.html", context, current="/timetables")


@routes.page(
    "POST",
    "/pupils/{pupil_id}/calendar-feed/revoke",
    roles=WRITERS,
    summary="Revoke a pupil's calendar feed (its URL answers 404 at once)",
)
async def feed_revoke(request: web.Request, who: Principal) -> web.StreamResponse:
    """Calendars that subscribed stop updating."""
    pupil_id = request.match_info["pupil_id"]
    try:
        async with request.app[DATABASE].transaction() as session:
            await feeds.revoke_feeds(session, who, pupil_id, request.app[CLOCK].now())
            record_request(request, session, who, "feed.revoke", "pupil", pupil_id)
    except DomainError as exc:
        return error_page(request, who, exc)
    raise web.HTTPSeeOther(f"/pupils/{pupil_id}/calendar-feed?notice=revoked")
