"""The staff page of a pupil's unavailability: weekly treatment, one-off appointments, unwell today.

Times are entered in the school's local time (the clock of the lessons the
pupil joins) and one-off entries are stored as UTC instants.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from scheduler.bookings import availability
from scheduler.bookings.events import HubBookingEvents
from scheduler.bookings.ports import tell_unwell
from scheduler.bookings.repository import unavailable_from_row
from scheduler.bookings.unavailability import services as unavailability
from scheduler.bookings.unavailability.domain import (
    OneOffUnavailable,
    Unavailable,
    WeeklyUnavailable,
)
from scheduler.timetables.imports.common import parse_clock
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
from telepresence.platform.errors import DomainError, InvalidInput
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS, NOTIFIER
from telepresence.platform.http.rendering import render
from telepresence.platform.http.routing import Routes
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import Principal

__all__ = ["routes", "unavailable_from_form"]

routes = Routes("timetable-pages")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NOTICES = {
    "added": "The unavailability is saved.",
    "added-cancelled": "The unavailability is saved; bookings in that time are cancelled.",
    "unwell": "Today's remaining bookings are cancelled.",
    "changed": "The unavailability is changed.",
    "changed-cancelled": "The unavailability is changed; bookings in its new time are cancelled.",
    "removed": "The unavailability is removed: lessons in those times can be booked again.",
}


def _local(text: str, field: str, zone: ZoneInfo) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        raise InvalidInput(
            f"{field.capitalize()}: give a date and time.",
            errors=[{"field": field, "message": "not a date and time"}],
        ) from None


def unavailable_from_form(form: dict[str, str], weekdays: list[str], zone: ZoneInfo) -> Unavailable:
    """A weekly (``kind=weekly``) or one-off entry from the page's form fields.

    One-off times are local to ``zone``. Raises ``InvalidInput`` naming what is wrong.
    """
    reason = form.get("reason", "")
    if not reason or len(reason) > 200:
        raise InvalidInput("Say what the pupil is unavailable for (up to 200 characters).")
    try:
        if form.get("kind") == "weekly":
            days = frozenset(int(d) for d in weekdays if d.isdigit())
            if not days:
                raise ValueError("tick at least one day")
            return WeeklyUnavailable(
                "",
                reason,
                days,
                parse_clock(form.get("start", "")),
                parse_clock(form.get("end", "")),
                parse_day(form["valid_from"], "from") if form.get("valid_from") else None,
                parse_day(form["valid_to"], "until") if form.get("valid_to") else None,
            )
        starts = _local(form.get("starts", ""), "starts", zone)
        return OneOffUnavailable("", reason, starts, _local(form.get("ends", ""), "ends", zone))
    except ValueError as exc:
        raise InvalidInput(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from exc


async def _context(request: web.Request, who: Principal, pupil_id: str) -> dict[str, Any]:
    async with request.app[DATABASE].transaction() as session:
        pupil = await visible_pupil(session, who, pupil_id)
        zone, rows = await availability.list_unavailability(session, who, pupil.id)
        record_request(request, session, who, "unavailability.read", "pupil", pupil.id)
    entries = [(row, unavailable_from_row(row).describe(zone)) for row in rows]
    return {
        "title": f"{pupil_display_name(pupil)}: unavailability",
        "pupil": pupil,
        "pupil_name": pupil_display_name(pupil),
        "zone": zone,
        "entries": entries,
        "days": DAYS,
        "form": {},
        "ticked": [],
        "can_edit": who.role in WRITERS,
        "editing": "",
        "edit_form": {},
        "edit_ticked": [],
        "notice": NOTICES.get(request.query.get("notice", ""), ""),
    }


@routes.page(
    "GET",
    "/pupils/{pupil_id}/unavailability",
    roles=READERS,
    summary="A pupil's unavailability, with forms to add weekly and one-off entries",
)
async def unavailability_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Weekly entries first."""
    return await pupil_page(request, who, _context, "unavailability.html")


async def _save(request: web.Request, who: Principal, entry_id: str | None) -> web.StreamResponse:
    """Add (``entry_id`` None) or change an entry from the posted form, then cancel the
    bookings still to start in its times. Refused whole: the page again with the errors and
    the form as posted (the add form, or the entry's form kept open)."""
    pupil_id = request.match_info["pupil_id"]
    posted = await request.post()
    form = form_of(posted)
    ticked = [d for d in posted.getall("weekday", []) if isinstance(d, str)]
    try:
        context = await _context(request, who, pupil_id)
    except DomainError as exc:
        return error_page(request, who, exc)
    try:
        entry = unavailable_from_form(form, ticked, context["zone"])
        now = request.app[CLOCK].now()
        async with request.app[DATABASE].transaction() as session:
            saved = await unavailability.save_entry(session, who, pupil_id, entry, now, entry_id)
            action, details = saved.audit
            record_request(request, session, who, action, "pupil", pupil_id, details)
    except DomainError as exc:
        context |= {"errors": error_messages(exc), "notice": ""}
        if entry_id is None:
            context |= {"form": form, "ticked": ticked}
        else:
            context |= {"editing": entry_id, "edit_form": form, "edit_ticked": ticked}
        return render(
            request, who, "unavailability.html", context, status=exc.status, current="/timetables"
        )
    HubBookingEvents(request.app[EVENTS]).publish(saved.events)
    notice = "added" if entry_id is None else "changed"
    notice += "-cancelled" if saved.cancelled else ""
    raise web.HTTPSeeOther(f"/pupils/{pupil_id}/unavailability?notice={notice}")


@routes.page(
    "POST",
    "/pupils/{pupil_id}/unavailability",
    roles=WRITERS,
    summary="Add a weekly or one-off unavailability (form)",
)
async def unavailability_add(request: web.Request, who: Principal) -> web.StreamResponse:
    """Bookings still to start in its times are cancelled; new bookings respect the entry."""
    return await _save(request, who, None)


@routes.page(
    "POST",
    "/pupils/{pupil_id}/unwell-today",
    roles=WRITERS,
    summary="Too unwell today: cancel the rest of today's bookings (form)",
)
async def unwell_today_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """Lessons already under way are left to end."""
    pupil_id = request.match_info["pupil_id"]
    try:
        async with request.app[DATABASE].transaction() as session:
            now = request.app[CLOCK].now()
            cancelled, events = await unavailability.unwell_today(session, who, pupil_id, now)
            notice = await unavailability.unwell_notice(session, who, pupil_id, cancelled, now)
            await tell_unwell(request.app, session, pupil_id, [b.id for b in cancelled], now)
            record_request(request, session, who, "pupil.unwell_today", "pupil", pupil_id)
    except DomainError as exc:
        return error_page(request, who, exc)
    HubBookingEvents(request.app[EVENTS]).publish(events)
    if notice is not None:
        await request.app[NOTIFIER].notify(notice)
    raise web.HTTPSeeOther(f"/pupils/{pupil_id}/unavailability?notice=unwell")


@routes.page(
    "POST",
    "/pupils/{pupil_id}/unavailability/{entry_id}",
    roles=WRITERS,
    summary="Change a weekly or one-off unavailability (form)",
)
async def unavailability_edit(request: web.Request, who: Principal) -> web.StreamResponse:
    """The same fields as adding one; refused whole, with the entry's form kept open."""
    return await _save(request, who, request.match_info["entry_id"])


@routes.page(
    "POST",
    "/pupils/{pupil_id}/unavailability/{entry_id}/delete",
    roles=WRITERS,
    summary="Remove an unavailability: its lessons can be booked again (form)",
)
async def unavailability_delete(request: web.Request, who: Principal) -> web.StreamResponse:
    """Bookings are not made by this; book the freed lessons as usual."""
    pupil_id, entry_id = request.match_info["pupil_id"], request.match_info["entry_id"]
    try:
        async with request.app[DATABASE].transaction() as session:
            row = await availability.remove_unavailability(session, who, pupil_id, entry_id)
            record_request(
                request,
                session,
                who,
                "unavailability.remove",
                "pupil",
                pupil_id,
                {"entry": entry_id, "reason": row.reason},
            )
    except DomainError as exc:
        return error_page(request, who, exc)
    raise web.HTTPSeeOther(f"/pupils/{pupil_id}/unavailability?notice=removed")
