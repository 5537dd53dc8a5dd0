"""HTTP API of timetables: school calendars, importing a pupil's timetable, its lessons.

Hospital staff and admins write; coordinators read; a pupil reads their own
lessons. Every read or change of a pupil's timetable is in the audit log;
booking events (bookings an import or a calendar change flags) are published
after commit.
"""

from __future__ import annotations

from aiohttp import web

from scheduler.bookings.events import HubBookingEvents
from scheduler.timetables import services
from scheduler.timetables.imports import ImportRejected
from scheduler.timetables.schemas import (
    CalendarIn,
    CalendarOut,
    ImportOut,
    ImportQuery,
    LessonOut,
    PeriodCodesIn,
    PeriodCodesOut,
)
from scheduler.timetables.views import (
    EXTENSIONS,
    calendar_in,
    calendar_out,
    import_out,
    lesson_out,
    problem_dict,
)
from telepresence.platform.errors import InvalidInput
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS
from telepresence.platform.http.routing import Routes
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import STAFF, Principal, Role

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
    "GET",
    "/api/schools/{school_id}/period-codes",
    roles=READERS,
    response=PeriodCodesOut,
    errors=(404,),
    summary="A school's own OneRoster period codes (X1 = A:Mon:1)",
)
async def get_period_codes(request: web.Request, who: Principal) -> PeriodCodesOut:
    """Each code with the code it means; ``read_as`` is empty here (see PUT)."""
    async with request.app[DATABASE].sessions() as session:
        school, cal = await services.get_calendar(session, who, request.match_info["school_id"])
    codes = [{"code": c, "meaning": m} for c, m in cal.period_codes]
    return PeriodCodesOut.model_validate({"school_id": school.id, "codes": codes})


@routes.api(
    "PUT",
    "/api/schools/{school_id}/period-codes",
    roles=WRITERS,
    body=PeriodCodesIn,
    response=PeriodCodesOut,
    errors=(404, 422),
    summary="Replace a school's own OneRoster period codes (each checked against its bells)",
)
async def put_period_codes(
    request: web.Request, who: Principal, body: PeriodCodesIn
) -> PeriodCodesOut:
    """All or nothing: an unreadable meaning is a 422 naming the code."""
    pairs = [(c.code, c.meaning) for c in body.codes]
    async with request.app[DATABASE].transaction() as session:
        school, read_as = await services.put_period_codes(
            session, who, request.match_info["school_id"], pairs
        )
        record_request(request, session, who, "calendar.period_codes", "school", school.id)
    codes = [{"code": c, "meaning": m} for c, m in pairs]
    return PeriodCodesOut.model_validate(
        {"school_id": school.id, "codes": codes, "read_as": read_as}
    )


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
