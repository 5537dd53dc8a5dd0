"""Staff pages of bookings: a pupil's week as a grid, booking, cancelling, bulk booking.

Hospital staff and admins book and cancel; coordinators see the same pages
read-only. Every page is audited like the API; every error is shown in the
page (never a raw problem document); booking events go out after commit.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from device_registry.models import Device
from scheduler.bookings import availability
from scheduler.bookings import services as bookings
from scheduler.bookings.events import HubBookingEvents
from scheduler.bookings.ports import LESSON_OUTCOMES
from scheduler.bookings.week import week_grid
from scheduler.timetables import services
from scheduler.timetables.calendar import monday_of
from scheduler.timetables.pages import (
    READERS,
    WRITERS,
    error_messages,
    error_page,
    form_of,
    parse_day,
    pupil_page,
)
from scheduler.timetables.repository import pupil_display_name, visible_pupil
from telepresence.platform.errors import DomainError, InvalidInput, NotFound
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS
from telepresence.platform.http.rendering import render
from telepresence.platform.http.routing import Routes
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import Principal

__all__ = ["routes"]

routes = Routes("timetable-pages")
NOTICES = {
    "booked": "The lesson is booked.",
    "cancelled": "The booking is cancelled.",
    "imported": "The timetable is imported. Bookings whose lesson moved or vanished are flagged.",
}
MAX_REASON = 200


async def _robots(session: Any, pupil_id: str) -> list[Device]:
    """The pupil's robots that can be booked (active first, then in maintenance), by name."""
    rows = await session.scalars(
        select(Device).where(
            Device.pupil_id == pupil_id,
            Device.kind == "robot",
            Device.lifecycle.in_(("active", "maintenance")),
        )
    )
    return sorted(rows, key=lambda d: (d.lifecycle != "active", d.name))


def _chosen(robots: list[Device], wanted: str) -> str:
    """The robot asked for if it is one of the pupil's, else the first."""
    ids = [r.id for r in robots]
    return wanted if wanted in ids else (ids[0] if ids else "")


async def _week_context(
    request: web.Request, who: Principal, pupil_id: str, day: date | None
) -> dict[str, Any]:
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        pupil = await visible_pupil(session, who, pupil_id)
        school, calendar = await services.get_calendar(session, who, pupil.school_id)
        today = now.astimezone(calendar.zone).date()
        monday = monday_of(day or today)
        pupil, views = await availability.occurrences_for(
            session, who, pupil_id, monday, monday + timedelta(days=6), now
        )
        outcomes = request.app.get(LESSON_OUTCOMES)
        past = await availability.past_lessons(session, outcomes, pupil.id, views, now)
        robots = await _robots(session, pupil.id)
        record_request(request, session, who, "occurrences.read", "pupil", pupil.id)
    return {
        "robots": robots,
        "robot": _chosen(robots, request.query.get("robot", "")),
        "title": f"{pupil_display_name(pupil)}: timetable",
        "pupil": pupil,
        "pupil_name": pupil_display_name(pupil),
        "school": school,
        "grid": week_grid(views, calendar, monday),
        "outcomes": past,
        "today": today,
        "this_monday": today - timedelta(days=today.weekday()),
        "now": now,
        "can_edit": who.role in WRITERS,
        "notice": "",
    }


async def week_response(
    request: web.Request,
    who: Principal,
    pupil_id: str,
    day: date | None,
    *,
    errors: list[str] | None = None,
    status: int = 200,
) -> web.Response:
    """The week page, optionally with errors of a refused form."""
    context = await _week_context(request, who, pupil_id, day)
    context["notice"] = NOTICES.get(request.query.get("notice", ""), "")
    context["errors"] = errors or []
    return render(
        request, who, "timetable_week.html", context, status=status, current="/timetables"
    )


@routes.page(
    "GET", "/pupils/{pupil_id}/timetable", roles=READERS, summary="A pupil's week as a grid"
)
async def week_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """``?week=YYYY-MM-DD`` picks the week (any day of it); this week by default."""
    try:
        week = request.query.get("week", "")
        day = parse_day(week, "week") if week else None
        return await week_response(request, who, request.match_info["pupil_id"], day)
    except DomainError as exc:
        return error_page(request, who, exc)


def _back(pupil_id: str, day: date, notice: str, robot: str = "") -> web.HTTPSeeOther:
    chosen = f"&robot={robot}" if robot.isalnum() else ""
    return web.HTTPSeeOther(
        f"/pupils/{pupil_id}/timetable?week={day.isoformat()}&notice={notice}{chosen}"
    )


@routes.page(
    "POST", "/pupils/{pupil_id}/timetable/book", roles=WRITERS, summary="Book one lesson (form)"
)
async def book_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """One click: the pupil's own robot and tablet; clashes are listed in the page."""
    pupil_id = request.match_info["pupil_id"]
    form = form_of(await request.post())
    now = request.app[CLOCK].now()
    try:
        day = parse_day(form.get("date", ""), "date")
        async with request.app[DATABASE].transaction() as session:
            booking, events = await bookings.book_occurrence(
                session,
                who,
                pupil_id,
                lesson_id=form.get("lesson_id", ""),
                day=day,
                classroom_device_id=form.get("classroom_device_id") or None,
                pupil_device_id=None,
                now=now,
            )
            details = {"booking": booking.id}
            record_request(request, session, who, "booking.add", "pupil", pupil_id, details)
    except DomainError as exc:
        return await _refused(request, who, pupil_id, form, exc)
    HubBookingEvents(request.app[EVENTS]).publish(events)
    raise _back(pupil_id, day, "booked", form.get("classroom_device_id", ""))


async def _refused(
    request: web.Request, who: Principal, pupil_id: str, form: dict[str, str], exc: DomainError
) -> web.Response:
    try:
        day = parse_day(form.get("week", "") or form.get("date", ""), "week")
        return await week_response(
            request, who, pupil_id, day, errors=error_messages(exc), status=exc.status
        )
    except DomainError as again:
        return error_page(request, who, again)


@routes.page(
    "POST",
    "/pupils/{pupil_id}/timetable/cancel",
    roles=WRITERS,
    summary="Cancel a booking with a reason (form)",
)
async def cancel_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """The booking stays, cancelled, with its reason."""
    pupil_id = request.match_info["pupil_id"]
    form = form_of(await request.post())
    reason = form.get("reason", "")
    try:
        day = parse_day(form.get("week", ""), "week")
        if not reason or len(reason) > MAX_REASON:
            raise InvalidInput(
                f"Say why the booking is cancelled (1 to {MAX_REASON} characters).",
                errors=[{"field": "reason", "message": "required"}],
            )
        async with request.app[DATABASE].transaction() as session:
            booking, events = await bookings.cancel_booking(
                session, who, form.get("booking_id", ""), reason, request.app[CLOCK].now()
            )
            if booking.pupil_id != pupil_id:  # rolls the cancellation back
                raise NotFound("That booking is not this pupil's.")
            details = {"booking": booking.id}
            record_request(request, session, who, "booking.cancel", "pupil", pupil_id, details)
    except DomainError as exc:
        return await _refused(request, who, pupil_id, form, exc)
    HubBookingEvents(request.app[EVENTS]).publish(events)
    raise _back(pupil_id, day, "cancelled")


@routes.page(
    "POST",
    "/bookings/{booking_id}/flagged",
    roles=WRITERS,
    summary="Decide on a flagged booking: keep it as a one-off or cancel it (form)",
)
async def flagged_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """``action=keep`` keeps it at its booked time and room; ``action=cancel`` cancels it."""
    booking_id = request.match_info["booking_id"]
    form = form_of(await request.post())
    now = request.app[CLOCK].now()
    try:
        async with request.app[DATABASE].transaction() as session:
            if form.get("action") == "keep":
                booking, events = await bookings.keep_as_one_off(session, who, booking_id, now)
                action, notice = "booking.keep", "kept"
            else:
                reason = form.get("reason") or "lesson removed from the timetable"
                booking, events = await bookings.cancel_booking(
                    session, who, booking_id, reason[:MAX_REASON], now
                )
                action, notice = "booking.cancel", "cancelled"
            details = {"booking": booking.id, "flagged": True}
            record_request(request, session, who, action, "pupil", booking.pupil_id, details)
    except DomainError as exc:
        return error_page(request, who, exc)
    HubBookingEvents(request.app[EVENTS]).publish(events)
    raise web.HTTPSeeOther(f"/timetables?notice={notice}#flagged-heading")


async def _bulk_context(request: web.Request, who: Principal, pupil_id: str) -> dict[str, Any]:
    async with request.app[DATABASE].transaction() as session:
        lessons = await services.timetable_of(session, who, pupil_id)
        pupil = await visible_pupil(session, who, pupil_id)
        robots = await _robots(session, pupil.id)
        _school, calendar = await services.get_calendar(session, who, pupil.school_id)
    today = request.app[CLOCK].now().astimezone(calendar.zone).date()
    return {
        "title": f"{pupil_display_name(pupil)}: book in bulk",
        "pupil": pupil,
        "pupil_name": pupil_display_name(pupil),
        "subjects": sorted({lesson.subject for _, lesson in lessons}, key=str.casefold),
        "chosen": [],
        "from_date": today.isoformat(),
        "to_date": (today + timedelta(days=13)).isoformat(),
        "outcome": None,
        "zone": calendar.zone,
        "max_days": bookings.MAX_BULK_DAYS,
        "robots": robots,
        "robot": _chosen(robots, ""),
    }


@routes.page("GET", "/pupils/{pupil_id}/timetable/bulk", roles=WRITERS, summary="Bulk-booking form")
async def bulk_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Subjects (none ticked = all) and a date range."""
    return await pupil_page(request, who, _bulk_context, "timetable_bulk.html")


@routes.page(
    "POST",
    "/pupils/{pupil_id}/timetable/bulk",
    roles=WRITERS,
    summary="Book every lesson of some subjects in a date range (form)",
)
async def bulk_submit(request: web.Request, who: Principal) -> web.StreamResponse:
    """Shows what was booked, and what was skipped and why (unavailability, clashes...)."""
    pupil_id = request.match_info["pupil_id"]
    posted = await request.post()
    form = form_of(posted)
    chosen = [s for s in posted.getall("subject", []) if isinstance(s, str)]
    try:
        context = await _bulk_context(request, who, pupil_id)
    except DomainError as exc:
        return error_page(request, who, exc)
    context |= {"chosen": chosen, "from_date": form.get("from", ""), "to_date": form.get("to", "")}
    context["robot"] = _chosen(context["robots"], form.get("classroom_device_id", ""))
    try:
        first, last = parse_day(form.get("from", ""), "from"), parse_day(form.get("to", ""), "to")
        async with request.app[DATABASE].transaction() as session:
            outcome = await bookings.bulk_book(
                session,
                who,
                pupil_id,
                subjects=chosen,
                from_date=first,
                to_date=last,
                classroom_device_id=form.get("classroom_device_id") or None,
                pupil_device_id=None,
                now=request.app[CLOCK].now(),
            )
            details = {"booked": len(outcome.booked), "skipped": len(outcome.skipped)}
            record_request(request, session, who, "booking.bulk", "pupil", pupil_id, details)
    except DomainError as exc:
        context["errors"] = error_messages(exc)
        return render(
            request, who, "timetable_bulk.html", context, status=exc.status, current="/timetables"
        )
    HubBookingEvents(request.app[EVENTS]).publish(outcome.events)
    context["outcome"] = outcome
    return render(request, who, "timetable_bulk.html", context, current="/timetables")
