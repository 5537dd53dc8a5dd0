"""HTTP API of timetables and bookings: parse, call a service, render.

Hospital staff and admins write; coordinators read; a pupil reads their own
occurrences and bookings. Every read or change of a pupil's timetable or
bookings is in the audit log; booking events are published after commit.
"""

from __future__ import annotations

from aiohttp import web

from scheduler import bookings, services
from scheduler.events import HubBookingEvents
from scheduler.imports import ImportRejected
from scheduler.repository import unavailable_from_row
from scheduler.schemas import (
    BookingIn,
    BookingOut,
    BulkBookingIn,
    BulkBookingOut,
    CalendarIn,
    CalendarOut,
    CancelIn,
    DateRangeQuery,
    ImportOut,
    ImportQuery,
    LessonOut,
    OccurrenceOut,
    SkippedOut,
    UnavailabilityIn,
    UnavailabilityOut,
    UnwellOut,
)
from scheduler.views import (
    EXTENSIONS,
    booking_out,
    calendar_in,
    calendar_out,
    import_out,
    lesson_out,
    occurrence_out,
    problem_dict,
    unavailability_out,
    unavailable_in,
)
from telepresence.platform.audit import record_request
from telepresence.platform.context import CLOCK, DATABASE, EVENTS
from telepresence.platform.errors import InvalidInput
from telepresence.platform.identity import STAFF, Principal, Role
from telepresence.platform.routing import Routes

__all__ = ["routes"]

routes = Routes("timetables")
WRITERS = [Role.ADMIN, Role.HOSPITAL_STAFF]
READERS = sorted(STAFF)
PUPIL_READERS = [*READERS, Role.PUPIL]


@routes.api(
    "GET",
    "/api/schools/{school_id}/calendar",
    roles=READERS,
    response=CalendarOut,
    errors=(404,),
    summary="A school's terms, closures, A/B weeks and bell times",
)
async def get_calendar(request: web.Request, who: Principal) -> CalendarOut:
    """Without a calendar entered, every weekday counts as a school day."""
    async with request.app[DATABASE].sessions() as session:
        school, cal = await services.get_calendar(session, who, request.match_info["school_id"])
        return calendar_out(school.id, cal)


@routes.api(
    "PUT",
    "/api/schools/{school_id}/calendar",
    roles=WRITERS,
    body=CalendarIn,
    response=CalendarOut,
    errors=(404, 422),
    summary="Replace a school's calendar (future bookings it invalidates are flagged)",
)
async def put_calendar(request: web.Request, who: Principal, body: CalendarIn) -> CalendarOut:
    """The school's time zone stays the school's own."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        school, _ = await services.get_calendar(session, who, request.match_info["school_id"])
        calendar = calendar_in(body, school.time_zone)
        school, events = await services.put_calendar(session, who, school.id, calendar, now)
        record_request(request, session, who, "calendar.replace", "school", school.id)
    HubBookingEvents(request.app[EVENTS]).publish(events)
    flagged = sum(1 for e in events if e.kind == "flagged")
    return calendar_out(school.id, calendar, flagged)


@routes.api(
    "POST",
    "/api/pupils/{pupil_id}/timetable",
    roles=WRITERS,
    query=ImportQuery,
    response=ImportOut,
    errors=(404, 413, 422),
    raw_body=("text/calendar", "text/csv", "application/zip"),
    summary="Upload a timetable export (raw body; ?format=ical|csv|oneroster&dry_run=true)",
)
async def import_timetable(request: web.Request, who: Principal, query: ImportQuery) -> ImportOut:
    """All or nothing: a rejected file answers 422 with every problem in ``errors``."""
    data = await request.read()
    now = request.app[CLOCK].now()
    fmt = query.format
    name = query.file_name or (f"upload.{EXTENSIONS[fmt]}" if fmt else "upload")
    try:
        async with request.app[DATABASE].transaction() as session:
            outcome = await services.import_timetable(
                session,
                who,
                request.match_info["pupil_id"],
                data,
                fmt=fmt,
                file_name=name,
                roster_id=query.roster_id,
                dry_run=query.dry_run,
                now=now,
            )
            action = "timetable.preview" if query.dry_run else "timetable.import"
            details = {"format": outcome.source_format, "added": len(outcome.diff.added)}
            pupil_id = request.match_info["pupil_id"]
            record_request(request, session, who, action, "pupil", pupil_id, details)
    except ImportRejected as exc:
        count = len(exc.errors)
        raise InvalidInput(
            f"The timetable was not imported: {count} problem{'s' if count != 1 else ''} "
            f"found; nothing was changed. First: {exc.errors[0] if exc.errors else 'unknown'}.",
            errors=[problem_dict(p) for p in exc.errors],
        ) from exc
    HubBookingEvents(request.app[EVENTS]).publish(outcome.events)
    return import_out(outcome)


@routes.api(
    "GET",
    "/api/pupils/{pupil_id}/timetable",
    roles=PUPIL_READERS,
    response=list[LessonOut],
    errors=(404,),
    summary="The lessons of a pupil's imported timetable",
)
async def get_timetable(request: web.Request, who: Principal) -> list[LessonOut]:
    """By lesson key (week, day, start)."""
    async with request.app[DATABASE].transaction() as session:
        rows = await services.timetable_of(session, who, request.match_info["pupil_id"])
        record_request(
            request, session, who, "timetable.read", "pupil", request.match_info["pupil_id"]
        )
        return [lesson_out(lsn, row_id) for row_id, lsn in rows]


@routes.api(
    "GET",
    "/api/pupils/{pupil_id}/occurrences",
    roles=PUPIL_READERS,
    query=DateRangeQuery,
    response=list[OccurrenceOut],
    errors=(404, 409, 422),
    summary="A pupil's dated lessons with booking state (?from=YYYY-MM-DD&to=YYYY-MM-DD)",
)
async def list_occurrences(
    request: web.Request, who: Principal, query: DateRangeQuery
) -> list[OccurrenceOut]:
    """In UTC start order; local times are the school's, DST-correct; closures skipped."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        pupil, views = await services.occurrences_for(
            session, who, request.match_info["pupil_id"], query.from_, query.to, now
        )
        record_request(request, session, who, "occurrences.read", "pupil", pupil.id)
    return [occurrence_out(v) for v in views]


@routes.api(
    "GET",
    "/api/pupils/{pupil_id}/bookings",
    roles=PUPIL_READERS,
    query=DateRangeQuery,
    response=list[BookingOut],
    errors=(404,),
    summary="A pupil's bookings of every status, flagged ones included (?from=&to=)",
)
async def list_bookings(
    request: web.Request, who: Principal, query: DateRangeQuery
) -> list[BookingOut]:
    """By start time."""
    pupil_id = request.match_info["pupil_id"]
    async with request.app[DATABASE].transaction() as session:
        found = await bookings.list_bookings(session, who, pupil_id, query.from_, query.to)
        record_request(request, session, who, "bookings.read", "pupil", pupil_id)
        return [booking_out(b) for b in found]


@routes.api(
    "POST",
    "/api/pupils/{pupil_id}/bookings",
    roles=WRITERS,
    body=BookingIn,
    response=BookingOut,
    status=201,
    errors=(404, 409, 422),
    summary="Book one occurrence (409 names every clash)",
)
async def book(request: web.Request, who: Principal, body: BookingIn) -> BookingOut:
    """Devices default to the pupil's assigned robot and tablet."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        booking, events = await bookings.book_occurrence(
            session,
            who,
            request.match_info["pupil_id"],
            lesson_id=body.lesson_id,
            day=body.date,
            classroom_device_id=body.classroom_device_id,
            pupil_device_id=body.pupil_device_id,
            now=now,
        )
        record_request(
            request, session, who, "booking.add", "pupil", booking.pupil_id, {"booking": booking.id}
        )
    HubBookingEvents(request.app[EVENTS]).publish(events)
    return booking_out(booking)


@routes.api(
    "POST",
    "/api/pupils/{pupil_id}/bookings/bulk",
    roles=WRITERS,
    body=BulkBookingIn,
    response=BulkBookingOut,
    errors=(404, 409, 422),
    summary="Book every occurrence of some subjects in a date range, skipping clashes",
)
async def book_in_bulk(request: web.Request, who: Principal, body: BulkBookingIn) -> BulkBookingOut:
    """Skipped occurrences come back with their reasons (unavailability, already booked...)."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        outcome = await bookings.bulk_book(
            session,
            who,
            request.match_info["pupil_id"],
            subjects=body.subjects,
            from_date=body.from_,
            to_date=body.to,
            classroom_device_id=body.classroom_device_id,
            pupil_device_id=body.pupil_device_id,
            now=now,
        )
        details = {"booked": len(outcome.booked), "skipped": len(outcome.skipped)}
        record_request(
            request, session, who, "booking.bulk", "pupil", request.match_info["pupil_id"], details
        )
    HubBookingEvents(request.app[EVENTS]).publish(outcome.events)
    return BulkBookingOut(
        booked=[booking_out(b) for b in outcome.booked],
        skipped=[
            SkippedOut(
                lesson_id=s.lesson_id,
                date=s.occurrence.date,
                start_local=f"{s.occurrence.start_local:%H:%M}",
                subject=s.subject,
                reasons=list(s.reasons),
            )
            for s in outcome.skipped
        ],
    )


@routes.api(
    "POST",
    "/api/bookings/{booking_id}/cancel",
    roles=WRITERS,
    body=CancelIn,
    response=BookingOut,
    errors=(404, 409),
    summary="Cancel a booking with a reason",
)
async def cancel(request: web.Request, who: Principal, body: CancelIn) -> BookingOut:
    """The booking stays, with its reason; cancelling twice is a 409."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        booking, events = await bookings.cancel_booking(
            session, who, request.match_info["booking_id"], body.reason, now
        )
        record_request(
            request,
            session,
            who,
            "booking.cancel",
            "pupil",
            booking.pupil_id,
            {"booking": booking.id},
        )
    HubBookingEvents(request.app[EVENTS]).publish(events)
    return booking_out(booking)


@routes.api(
    "GET",
    "/api/bookings/flagged",
    roles=READERS,
    response=list[BookingOut],
    summary="Future bookings flagged by a re-import or calendar change, for staff to resolve",
)
async def list_flagged(request: web.Request, who: Principal) -> list[BookingOut]:
    """Soonest first; resolve one by cancelling it (and booking the lesson's new slot)."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        found = await bookings.list_flagged(session, who, now)
        pupils = sorted({b.pupil_id for b in found})
        record_request(request, session, who, "bookings.flagged", "pupil", "*", {"pupils": pupils})
        return [booking_out(b) for b in found]


@routes.api(
    "POST",
    "/api/pupils/{pupil_id}/unwell-today",
    roles=[*WRITERS, Role.PUPIL],
    response=UnwellOut,
    errors=(404,),
    summary="Too unwell today: cancel the rest of today's bookings",
)
async def unwell_today(request: web.Request, who: Principal) -> UnwellOut:
    """The pupil (on the tablet) or staff; lessons already under way are left alone."""
    now = request.app[CLOCK].now()
    pupil_id = request.match_info["pupil_id"]
    async with request.app[DATABASE].transaction() as session:
        cancelled, events = await bookings.unwell_today(session, who, pupil_id, now)
        record_request(request, session, who, "pupil.unwell_today", "pupil", pupil_id)
    HubBookingEvents(request.app[EVENTS]).publish(events)
    return UnwellOut(cancelled=[booking_out(b) for b in cancelled])


@routes.api(
    "GET",
    "/api/pupils/{pupil_id}/unavailability",
    roles=PUPIL_READERS,
    response=list[UnavailabilityOut],
    errors=(404,),
    summary="When a pupil cannot join lessons (treatment, appointments)",
)
async def list_unavailability(request: web.Request, who: Principal) -> list[UnavailabilityOut]:
    """Weekly entries first."""
    pupil_id = request.match_info["pupil_id"]
    async with request.app[DATABASE].transaction() as session:
        zone, rows = await services.list_unavailability(session, who, pupil_id)
        record_request(request, session, who, "unavailability.read", "pupil", pupil_id)
        return [unavailability_out(r, unavailable_from_row(r).describe(zone)) for r in rows]


@routes.api(
    "POST",
    "/api/pupils/{pupil_id}/unavailability",
    roles=WRITERS,
    body=UnavailabilityIn,
    response=UnavailabilityOut,
    status=201,
    errors=(404, 422),
    summary="Add a weekly or one-off unavailability",
)
async def add_unavailability(
    request: web.Request, who: Principal, body: UnavailabilityIn
) -> UnavailabilityOut:
    """Existing bookings are not touched; new bookings and bulk booking respect it."""
    entry = unavailable_in(body)
    pupil_id = request.match_info["pupil_id"]
    async with request.app[DATABASE].transaction() as session:
        zone, row = await services.add_unavailability(
            session, who, pupil_id, entry, request.app[CLOCK].now()
        )
        record_request(request, session, who, "unavailability.add", "pupil", pupil_id)
        return unavailability_out(row, entry.describe(zone))
