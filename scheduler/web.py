"""HTTP API of timetables and bookings: parse, call a service, render.

Hospital staff and admins write; coordinators read; a pupil reads their own
occurrences and bookings. Every read or change of a pupil's timetable or
bookings is in the audit log; booking events are published after commit.
"""

from __future__ import annotations

from aiohttp import web

from scheduler import bookings, services
from scheduler.calendar import BellPeriod, CalendarError, Closure, SchoolCalendar, Term, WeekCycle
from scheduler.events import HubBookingEvents
from scheduler.imports import ImportRejected
from scheduler.models import Booking, UnavailabilityRow
from scheduler.occurrences import Lesson
from scheduler.repository import unavailable_from_row
from scheduler.schemas import (
    BookingIn,
    BookingOut,
    BulkBookingIn,
    BulkBookingOut,
    CalendarIn,
    CalendarOut,
    CancelIn,
    DatedSpanIn,
    DateRangeQuery,
    ImportOut,
    ImportProblemOut,
    ImportQuery,
    LessonChangeOut,
    LessonOut,
    OccurrenceOut,
    SkippedOut,
    UnavailabilityIn,
    UnavailabilityOut,
    UnwellOut,
)
from scheduler.unavailability import OneOffUnavailable, Unavailable, WeeklyUnavailable
from telepresence.platform.audit import record_request
from telepresence.platform.context import CLOCK, DATABASE, EVENTS
from telepresence.platform.errors import InvalidInput
from telepresence.platform.identity import STAFF, Principal, Role
from telepresence.platform.routing import Routes

__all__ = ["booking_out", "lesson_out", "routes"]

routes = Routes("timetables")
WRITERS = [Role.ADMIN, Role.HOSPITAL_STAFF]
READERS = sorted(STAFF)
PUPIL_READERS = [*READERS, Role.PUPIL]


def lesson_out(lesson: Lesson, lesson_id: str | None = None) -> LessonOut:
    """The API view of a lesson."""
    return LessonOut(
        lesson_id=lesson_id,
        lesson_key=lesson.key,
        subject=lesson.subject,
        class_group=lesson.class_group,
        teacher=lesson.teacher,
        room=lesson.room,
        weekday=lesson.weekday,
        start_local=f"{lesson.start:%H:%M}",
        end_local=f"{lesson.end:%H:%M}",
        week=lesson.week,
        valid_from=lesson.valid_from,
        valid_to=lesson.valid_to,
    )


def booking_out(b: Booking) -> BookingOut:
    """The API view of a booking."""
    return BookingOut(
        id=b.id,
        pupil_id=b.pupil_id,
        lesson_key=b.lesson_key,
        date=b.lesson_date,
        start=b.starts_at,
        end=b.ends_at,
        subject=b.subject,
        room=b.room,
        classroom_device_id=b.classroom_device_id,
        pupil_device_id=b.pupil_device_id,
        status=b.status,
        cancel_reason=b.cancel_reason,
        flagged_reason=b.flagged_reason,
    )


def _calendar_in(body: CalendarIn, timezone: str) -> SchoolCalendar:
    try:
        cycle = None
        if body.week_cycle is not None:
            overrides = {o.date: o.week for o in body.week_cycle.overrides}
            cycle = WeekCycle(body.week_cycle.week_a_monday, overrides)
        return SchoolCalendar(
            timezone=timezone,
            terms=tuple(Term(t.name, t.start, t.end) for t in body.terms),
            closures=tuple(Closure(c.name, c.start, c.end) for c in body.closures),
            week_cycle=cycle,
            bell_times=tuple(BellPeriod(b.name, b.start, b.end) for b in body.bell_times),
            school_weekdays=frozenset(body.school_weekdays),
        )
    except CalendarError as exc:
        raise InvalidInput(
            f"The calendar is inconsistent: {exc}.", errors=[{"field": "body", "message": str(exc)}]
        ) from exc


def _calendar_out(school_id: str, cal: SchoolCalendar, flagged: int = 0) -> CalendarOut:
    cycle = cal.week_cycle
    return CalendarOut.model_validate(
        {
            "school_id": school_id,
            "timezone": cal.timezone,
            "terms": [DatedSpanIn(name=t.name, start=t.start, end=t.end) for t in cal.terms],
            "closures": [DatedSpanIn(name=c.name, start=c.start, end=c.end) for c in cal.closures],
            "week_cycle": None
            if cycle is None
            else {
                "week_a_monday": cycle.reference_monday,
                "overrides": [{"date": d, "week": w} for d, w in sorted(cycle.overrides.items())],
            },
            "bell_times": [
                {"name": b.name, "start": b.start, "end": b.end} for b in cal.bell_times
            ],
            "school_weekdays": sorted(cal.school_weekdays),
            "flagged_bookings": flagged,
        }
    )


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
        return _calendar_out(school.id, cal)


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
        calendar = _calendar_in(body, school.time_zone)
        school, events = await services.put_calendar(session, who, school.id, calendar, now)
        record_request(request, session, who, "calendar.replace", "school", school.id)
    HubBookingEvents(request.app[EVENTS]).publish(events)
    flagged = sum(1 for e in events if e.kind == "flagged")
    return _calendar_out(school.id, calendar, flagged)


def _import_out(outcome: services.ImportOutcome) -> ImportOut:
    diff = outcome.diff
    return ImportOut(
        dry_run=outcome.dry_run,
        source_format=outcome.source_format,
        added=[lesson_out(lsn) for lsn in diff.added],
        changed=[
            LessonChangeOut(
                lesson_key=c.new.key,
                fields=list(c.fields),
                before=lesson_out(c.old),
                after=lesson_out(c.new),
            )
            for c in diff.changed
        ],
        removed=[lesson_out(lsn) for lsn in diff.removed],
        unchanged=len(diff.unchanged),
        warnings=[ImportProblemOut(**_problem(w)) for w in outcome.warnings],
        flagged_bookings=outcome.flagged,
    )


_EXTENSIONS = {"ical": "ics", "csv": "csv", "oneroster": "zip"}


def _problem(problem: object) -> dict[str, object]:
    return {name: getattr(problem, name) for name in ("file", "line", "field", "message")}


@routes.api(
    "POST",
    "/api/pupils/{pupil_id}/timetable",
    roles=WRITERS,
    query=ImportQuery,
    response=ImportOut,
    errors=(404, 413, 422),
    summary="Upload a timetable export (raw body; ?format=ical|csv|oneroster&dry_run=true)",
)
async def import_timetable(request: web.Request, who: Principal, query: ImportQuery) -> ImportOut:
    """All or nothing: a rejected file answers 422 with every problem in ``errors``."""
    data = await request.read()
    now = request.app[CLOCK].now()
    fmt = query.format
    name = query.file_name or (f"upload.{_EXTENSIONS[fmt]}" if fmt else "upload")
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
            errors=[_problem(p) for p in exc.errors],
        ) from exc
    HubBookingEvents(request.app[EVENTS]).publish(outcome.events)
    return _import_out(outcome)


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
    return [_occurrence_out(v) for v in views]


def _occurrence_out(view: services.OccurrenceView) -> OccurrenceOut:
    occ, lesson = view.occurrence, view.lesson
    return OccurrenceOut(
        lesson_id=view.lesson_id,
        lesson_key=occ.lesson_key,
        date=occ.date,
        start_local=f"{occ.start_local:%H:%M}",
        end_local=f"{occ.end_local:%H:%M}",
        start=occ.start,
        end=occ.end,
        subject=lesson.subject,
        class_group=lesson.class_group,
        teacher=lesson.teacher,
        room=lesson.room,
        week=occ.week,
        state=view.state,
        booking=booking_out(view.booking) if view.booking else None,
        unavailable=list(view.unavailable),
    )


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


def _unavailable_in(body: UnavailabilityIn) -> Unavailable:
    try:
        if body.starts_at is not None and body.ends_at is not None:
            return OneOffUnavailable("", body.reason, body.starts_at, body.ends_at)
        if body.start is None or body.end is None:
            raise ValueError("a weekly unavailability needs start and end")
        return WeeklyUnavailable(
            "",
            body.reason,
            frozenset(body.weekdays),
            body.start,
            body.end,
            body.valid_from,
            body.valid_to,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc), errors=[{"field": "body", "message": str(exc)}]) from exc


def _unavailability_out(row: UnavailabilityRow, description: str) -> UnavailabilityOut:
    return UnavailabilityOut(
        id=row.id,
        kind="weekly" if row.kind == "weekly" else "once",
        reason=row.reason,
        weekdays=row.weekdays,
        start=f"{row.start_time:%H:%M}" if row.start_time else None,
        end=f"{row.end_time:%H:%M}" if row.end_time else None,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        description=description,
    )


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
        return [_unavailability_out(r, unavailable_from_row(r).describe(zone)) for r in rows]


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
    entry = _unavailable_in(body)
    pupil_id = request.match_info["pupil_id"]
    async with request.app[DATABASE].transaction() as session:
        zone, row = await services.add_unavailability(
            session, who, pupil_id, entry, request.app[CLOCK].now()
        )
        record_request(request, session, who, "unavailability.add", "pupil", pupil_id)
        return _unavailability_out(row, entry.describe(zone))
