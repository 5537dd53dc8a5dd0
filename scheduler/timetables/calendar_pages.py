"""The staff page of a home school's calendar: terms, closures, A/B weeks, bells, period codes.

So that a new school is set up in pages, not through the API. Three steps in
one form: read the school's term dates from its .ics into the fields, check
(what the calendar implies, in sentences: "Week A starts Mon 1 Sep"), save.
Saving goes through the same use cases as the API (bookings a change
invalidates are flagged and the rota told).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from scheduler.bookings.events import HubBookingEvents
from scheduler.bookings.ports import BookingEvent
from scheduler.timetables import services
from scheduler.timetables.calendar import SchoolCalendar
from scheduler.timetables.calendar_text import (
    CalendarText,
    calendar_lines,
    implications,
    parse_calendar_text,
    period_code_pairs,
    term_dates_from_ics,
)
from scheduler.timetables.imports.common import MAX_FILE_BYTES
from scheduler.timetables.pages import READERS, WRITERS, error_messages, error_page, form_of
from telepresence.platform.errors import DomainError
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS
from telepresence.platform.http.rendering import render
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import School
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import Principal

__all__ = ["routes"]

routes = Routes("calendar-pages")


def _context(school: School, text: CalendarText, calendar: SchoolCalendar | None) -> dict[str, Any]:
    return {
        "title": f"{school.name}: school calendar",
        "school": school,
        "text": text,
        "said": implications(calendar) if calendar is not None else [],
        "errors": list(text.problems),
        "notes": list(text.notes),
        "checked": False,
        "notice": "",
        "can_edit": False,
    }


@routes.page(
    "GET",
    "/schools/{school_id}/calendar",
    roles=READERS,
    summary="A home school's calendar: terms, closures, A/B weeks, bell times, period codes",
)
async def calendar_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """The calendar as editable lines, with what it implies."""
    try:
        async with request.app[DATABASE].sessions() as session:
            school, calendar = await services.get_calendar(
                session, who, request.match_info["school_id"]
            )
    except DomainError as exc:
        return error_page(request, who, exc)
    context = _context(school, calendar_lines(calendar), calendar)
    context["can_edit"] = who.role in WRITERS
    context["notice"] = request.query.get("notice", "")
    return render(request, who, "timetable_calendar.html", context, current="/timetables")


def _text_of(form: dict[str, str]) -> CalendarText:
    def field(name: str) -> str:
        return form.get(name, "")[:20_000]

    return CalendarText(
        terms=field("terms"),
        closures=field("closures"),
        week_a_monday=field("week_a_monday"),
        week_overrides=field("week_overrides"),
        bell_times=field("bell_times"),
        period_codes=field("period_codes"),
    )


async def _save(
    request: web.Request,
    who: Principal,
    school: School,
    calendar: SchoolCalendar,
    text: CalendarText,
) -> list[BookingEvent] | None:
    """Save the calendar and the period codes in one transaction; None with problems in ``text``."""
    codes = period_code_pairs(text.period_codes, text.problems)
    if text.problems:
        return None
    now = request.app[CLOCK].now()
    try:
        async with request.app[DATABASE].transaction() as session:
            _, events = await services.put_calendar(session, who, school.id, calendar, now)
            await services.put_period_codes(session, who, school.id, codes)
            record_request(request, session, who, "calendar.replace", "school", school.id)
    except DomainError as exc:
        text.problems.extend(error_messages(exc))
        return None
    return events


@routes.page(
    "POST",
    "/schools/{school_id}/calendar",
    roles=WRITERS,
    summary="Check or save a school's calendar, or read its term dates from an .ics (form)",
)
async def calendar_submit(request: web.Request, who: Principal) -> web.StreamResponse:
    """``action``: ``ics`` fills terms and closures from a file, ``check`` shows, ``save`` saves."""
    posted = await request.post()
    form = form_of(posted)
    try:
        async with request.app[DATABASE].sessions() as session:
            school, current = await services.get_calendar(
                session, who, request.match_info["school_id"]
            )
    except DomainError as exc:
        return error_page(request, who, exc)
    text = _text_of(form)
    action = form.get("action", "check")
    upload = posted.get("term_dates")
    if action == "ics" and isinstance(upload, FileField) and upload.filename:
        text = term_dates_from_ics(upload.file.read(MAX_FILE_BYTES), text)
    elif action == "ics":
        text.problems.append("Choose the school's term dates file (.ics) to read.")
    calendar = parse_calendar_text(
        text, timezone=school.time_zone, school_weekdays=current.school_weekdays
    )
    if action == "save" and calendar is not None:
        events = await _save(request, who, school, calendar, text)
        if events is not None:
            HubBookingEvents(request.app[EVENTS]).publish(events)
            flagged = sum(1 for e in events if e.kind == "flagged")
            raise web.HTTPSeeOther(f"/schools/{school.id}/calendar?notice=saved-{flagged}")
    context = _context(school, text, calendar)
    context |= {"can_edit": True, "checked": action != "save" and calendar is not None}
    status = 422 if text.problems and action == "save" else 200
    return render(
        request, who, "timetable_calendar.html", context, status=status, current="/timetables"
    )
