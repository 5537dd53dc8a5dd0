"""HTTP API of bookings: a pupil's occurrences, booking and cancelling, unavailability.

Hospital staff and admins write; coordinators read; a pupil reads their own
occurrences and bookings. Every read or change of a pupil's bookings is in the
audit log; booking events are published after commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import TypeAdapter

from scheduler.bookings import availability
from scheduler.bookings import services as bookings
from scheduler.bookings.domain import BookedFields, OccurrenceView
from scheduler.bookings.events import HubBookingEvents
from scheduler.bookings.ports import LESSON_OUTCOMES, tell_unwell
from scheduler.bookings.repository import (
    StoredBooking,
    unavailable_from_row,
    week_version,
    week_version_in,
)
from scheduler.bookings.schemas import (
    BookingIn,
    BookingOut,
    BulkBookingIn,
    BulkBookingOut,
    CancelIn,
    DateRangeQuery,
    OccurrenceOut,
    SkippedOut,
    UnavailabilityIn,
    UnavailabilityOut,
    UnwellOut,
)
from scheduler.bookings.unavailability import services as unavailability
from scheduler.bookings.views import (
    booking_out,
    occurrence_out,
    unavailability_out,
    unavailable_in,
)
from scheduler.timetables import repository as repo
from scheduler.timetables.calendar import SchoolCalendar
from telepresence.platform.errors import NotFound
from telepresence.platform.http.answers import AnswerCache
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS, NOTIFIER
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import School
from telepresence.platform.operations.logging import REQUEST_ID
from telepresence.platform.security.audit import record_read, record_request
from telepresence.platform.security.identity import STAFF, Principal, Role

__all__ = ["WEEK_ANSWERS", "routes"]

routes = Routes("bookings")
WRITERS = [Role.ADMIN, Role.HOSPITAL_STAFF]
READERS = sorted(STAFF)
PUPIL_READERS = [*READERS, Role.PUPIL]
# Pupils' weeks as answered, under the versions they were computed from (``platform.versions``).
WEEK_ANSWERS = web.AppKey("week_answers", AnswerCache)
OCCURRENCES = TypeAdapter(list[OccurrenceOut])


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
) -> web.Response:
    """In UTC start order; local times are the school's, DST-correct; closures skipped."""
    now = request.app[CLOCK].now()
    database = request.app[DATABASE]
    pupil_id = request.match_info["pupil_id"]
    availability.check_range(query.from_, query.to)
    # The versions of everything the answer is computed from, read before it is computed:
    # an answer kept under them is never older than they say (``platform.versions``).
    if database.dialect == "postgresql":
        async with database.driver() as conn:
            found = await week_version(conn, pupil_id)
    else:
        async with database.sessions() as session:
            found = await week_version_in(session, pupil_id)
    if (
        found is None
        or found.provider_id != who.provider_id
        or (who.role is Role.PUPIL and who.subject_id != pupil_id)
    ):
        raise NotFound(f"There is no pupil {pupil_id!r}.")
    answers = request.app.get(WEEK_ANSWERS)
    key, version = (pupil_id, query.from_, query.to), found[1:]
    body = answers.get(key, version, now) if answers is not None else None
    if body is None:
        body, until = await _week_answer(request, who, pupil_id, query, now)
        if answers is not None and until is not False:
            answers.put(key, version, until, body)
    await record_read(request, who, "occurrences.read", "pupil", pupil_id)
    return web.Response(body=body, content_type="application/json", charset="utf-8")


async def _week_answer(
    request: web.Request, who: Principal, pupil_id: str, query: DateRangeQuery, now: datetime
) -> tuple[bytes, datetime | Literal[False] | None]:
    """The week's answer, encoded, and until when it holds: the next start or end of one
    of its lessons (a lesson that starts is "past", one that ends has an outcome), None
    for ever (while the versions hold), False when it may not be kept (outcomes of ended
    lessons come from a source the versions do not cover)."""
    database = request.app[DATABASE]
    views: Sequence[OccurrenceView[BookedFields]]
    if database.dialect == "postgresql":
        views = await _week_in_one_statement(request, who, pupil_id, query, now)
    else:
        async with database.sessions() as session:
            _, views = await availability.occurrences_for(
                session, who, pupil_id, query.from_, query.to, now
            )
    past = {}
    outcomes = request.app.get(LESSON_OUTCOMES)
    ended = any(v.occurrence.end <= now for v in views)
    if outcomes is not None and ended:
        async with database.sessions() as session:
            past = await availability.past_lessons(session, outcomes, pupil_id, views, now)
    body = OCCURRENCES.dump_json(
        [occurrence_out(v, past.get((v.occurrence.lesson_key, v.occurrence.date))) for v in views]
    )
    if outcomes is not None and ended:
        return body, False
    later = [t for v in views for t in (v.occurrence.start, v.occurrence.end) if t > now]
    return body, min(later, default=None)


async def _week_in_one_statement(
    request: web.Request, who: Principal, pupil_id: str, query: DateRangeQuery, now: datetime
) -> list[OccurrenceView[StoredBooking]]:
    database = request.app[DATABASE]
    async with database.driver() as conn:
        week = await availability.read_week(conn, who, pupil_id, query.from_, query.to, now)
        if week.views is not None:
            return week.views
    # The school's calendar is not in memory yet (or changed): read it, then lay out again.
    async with database.sessions() as session:
        school = await session.get(School, week.school_id)
        if school is None:
            raise NotFound(f"There is no pupil {pupil_id!r}.")
        calendar = await repo.dated_calendar(session, school, week.stamp)
    async with database.driver() as conn:
        week = await availability.read_week(
            conn, who, pupil_id, query.from_, query.to, now, calendar
        )
    assert week.views is not None
    return week.views


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
    async with request.app[DATABASE].sessions() as session:
        found = await bookings.list_bookings(session, who, pupil_id, query.from_, query.to)
    await record_read(request, who, "bookings.read", "pupil", pupil_id)
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
    database = request.app[DATABASE]
    if database.dialect == "postgresql":
        return await _book_in_sql(request, who, body, now)
    async with database.transaction() as session:
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


async def _book_in_sql(
    request: web.Request, who: Principal, body: BookingIn, now: datetime
) -> BookingOut:
    """PostgreSQL: the booking and its audit entry in one statement after one read, on the
    pool's asyncpg connection; the same rules and errors as the session's path."""
    database = request.app[DATABASE]

    async def calendar_of(school_id: str, stamp: int) -> SchoolCalendar:
        async with database.sessions() as session:
            school = await session.get(School, school_id)
            if school is None:
                raise NotFound(f"There is no pupil {request.match_info['pupil_id']!r}.")
            return await repo.dated_calendar(session, school, stamp)

    async with database.driver() as conn:
        booking, events = await bookings.book_occurrence_in_sql(
            conn,
            who,
            request.match_info["pupil_id"],
            lesson_id=body.lesson_id,
            day=body.date,
            classroom_device_id=body.classroom_device_id,
            pupil_device_id=body.pupil_device_id,
            now=now,
            request_id=request.get(REQUEST_ID, ""),
            calendar_of=calendar_of,
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
        closed=list(outcome.closed),
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
    "/api/bookings/{booking_id}/keep",
    roles=WRITERS,
    response=BookingOut,
    errors=(404, 409),
    summary="Keep a flagged booking as a one-off lesson at its booked time and room",
)
async def keep(request: web.Request, who: Principal) -> BookingOut:
    """Clears the flag; the rota plans its move again. Cancel it instead with .../cancel."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        booking, events = await bookings.keep_as_one_off(
            session, who, request.match_info["booking_id"], now
        )
        details = {"booking": booking.id}
        record_request(request, session, who, "booking.keep", "pupil", booking.pupil_id, details)
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
    """Soonest first; resolve one by keeping it as a one-off or cancelling it."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].sessions() as session:
        found = await bookings.list_flagged(session, who, now)
    pupils = sorted({b.pupil_id for b in found})
    await record_read(request, who, "bookings.flagged", "pupil", "*", {"pupils": pupils})
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
        cancelled, events = await unavailability.unwell_today(session, who, pupil_id, now)
        notice = await unavailability.unwell_notice(session, who, pupil_id, cancelled, now)
        await tell_unwell(request.app, session, pupil_id, [b.id for b in cancelled], now)
        record_request(request, session, who, "pupil.unwell_today", "pupil", pupil_id)
    HubBookingEvents(request.app[EVENTS]).publish(events)
    if notice is not None:
        await request.app[NOTIFIER].notify(notice)
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
    async with request.app[DATABASE].sessions() as session:
        zone, rows = await availability.list_unavailability(session, who, pupil_id)
    await record_read(request, who, "unavailability.read", "pupil", pupil_id)
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
    """Bookings still to start in that time are cancelled with its reason (and counted)."""
    return await _save_unavailability(request, who, body, None)


@routes.api(
    "PUT",
    "/api/pupils/{pupil_id}/unavailability/{entry_id}",
    roles=WRITERS,
    body=UnavailabilityIn,
    response=UnavailabilityOut,
    errors=(404, 422),
    summary="Change a weekly or one-off unavailability (bookings in its new time are cancelled)",
)
async def change_unavailability(
    request: web.Request, who: Principal, body: UnavailabilityIn
) -> UnavailabilityOut:
    """The whole entry is replaced (it may become weekly or one-off); bookings still to
    start in its new time are cancelled with its reason, as when adding one."""
    return await _save_unavailability(request, who, body, request.match_info["entry_id"])


async def _save_unavailability(
    request: web.Request, who: Principal, body: UnavailabilityIn, entry_id: str | None
) -> UnavailabilityOut:
    entry = unavailable_in(body)
    pupil_id = request.match_info["pupil_id"]
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        saved = await unavailability.save_entry(session, who, pupil_id, entry, now, entry_id)
        action, details = saved.audit
        record_request(request, session, who, action, "pupil", pupil_id, details)
        out = unavailability_out(saved.row, entry.describe(saved.zone))
    HubBookingEvents(request.app[EVENTS]).publish(saved.events)
    return out.model_copy(update={"cancelled_bookings": len(saved.cancelled)})


@routes.api(
    "DELETE",
    "/api/pupils/{pupil_id}/unavailability/{entry_id}",
    roles=WRITERS,
    status=204,
    errors=(404,),
    summary="Remove an unavailability: lessons in its times can be booked again",
)
async def remove_unavailability(request: web.Request, who: Principal) -> None:
    """Nothing is booked by this."""
    pupil_id, entry_id = request.match_info["pupil_id"], request.match_info["entry_id"]
    async with request.app[DATABASE].transaction() as session:
        row = await availability.remove_unavailability(session, who, pupil_id, entry_id)
        details = {"entry": entry_id, "reason": row.reason}
        record_request(request, session, who, "unavailability.remove", "pupil", pupil_id, details)
