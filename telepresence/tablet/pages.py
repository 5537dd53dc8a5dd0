"""The pupil's tablet: today's lessons, and the lesson page with the class on screen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from device_registry.views import device_views
from scheduler.bookings.events import HubBookingEvents
from scheduler.bookings.models import Booking
from scheduler.bookings.ports import tell_unwell
from scheduler.bookings.unavailability import services as unavailability
from scheduler.bookings.unavailability.services import UNWELL_REASON
from scheduler.timetables.models import LessonRow
from telepresence.engagement.services import my_week
from telepresence.platform.errors import NotFound
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS, NOTIFIER, SETTINGS
from telepresence.platform.http.rendering import render
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import Pupil, Room, School, zone_of
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import Principal, Role
from telepresence.sessions.domain import EventKind, Participant, SessionWindow
from telepresence.sessions.models import LessonSession, SessionEvent
from telepresence.sessions.services import booking_window
from telepresence.tablet.whereabouts import robot_whereabouts

__all__ = ["routes"]

routes = Routes("lesson-pages")


@dataclass(frozen=True, slots=True)
class LessonFacts:
    """What the tablet says about one booked lesson besides its times."""

    teacher: str = ""
    building: str = ""
    joined_before: bool = False
    warning: str = ""


def _lesson_view(
    booking: Booking, zone: ZoneInfo, now: datetime, window: SessionWindow, facts: LessonFacts
) -> dict[str, Any]:
    start, end = booking.starts_at.astimezone(zone), booking.ends_at.astimezone(zone)
    return {
        "id": booking.id,
        "subject": booking.subject,
        "room": booking.room,
        "building": facts.building,
        "teacher": facts.teacher,
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "opens": window.opens.astimezone(zone).strftime("%H:%M"),
        "closes": window.closes.astimezone(zone).strftime("%H:%M"),
        "starts_at": booking.starts_at.isoformat(),
        "opens_at": window.opens.isoformat(),
        "joinable": window.contains(now),
        "over": now >= window.closes,
        "joined_before": facts.joined_before,
        "warning": facts.warning,
    }


async def _facts(
    db: AsyncSession, bookings: list[Booking], school_id: str | None, warn: set[str]
) -> dict[str, LessonFacts]:
    """Teachers (from the timetable), buildings (from the school's rooms), whether the pupil
    joined before, and the robot's whereabouts for the lessons in ``warn``."""
    if not bookings:
        return {}
    pupil_id = bookings[0].pupil_id
    rows = await db.execute(
        select(LessonRow.key, LessonRow.teacher).where(
            LessonRow.pupil_id == pupil_id, LessonRow.key.in_({b.lesson_key for b in bookings})
        )
    )
    teachers: dict[str, str] = {key: teacher for key, teacher in rows.all()}  # noqa: C416
    buildings = {
        name.casefold(): building
        for name, building in (
            await db.execute(select(Room.name, Room.building).where(Room.school_id == school_id))
        ).all()
    }
    joined = set(
        await db.scalars(
            select(LessonSession.booking_id)
            .join(SessionEvent, SessionEvent.session_id == LessonSession.id)
            .where(
                LessonSession.booking_id.in_([b.id for b in bookings]),
                SessionEvent.participant == Participant.PUPIL.value,
                SessionEvent.kind == EventKind.JOINED.value,
            )
        )
    )
    facts = {}
    for b in bookings:
        where = await robot_whereabouts(db, b) if b.id in warn else None
        facts[b.id] = LessonFacts(
            teacher=teachers.get(b.lesson_key, "").strip(),
            building=buildings.get(b.room.strip().casefold(), "") if b.room else "",
            joined_before=b.id in joined,
            warning=where.for_pupil() if where and where.elsewhere else "",
        )
    return facts


@routes.page("GET", "/today", roles=[Role.PUPIL], summary="Pupil's today page (tablet)")
async def today_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Today's booked lessons in the school's time, each with Join in its window; the week."""
    now = request.app[CLOCK].now()
    settings = request.app[SETTINGS]
    async with request.app[DATABASE].sessions() as db:
        pupil = await db.get(Pupil, who.subject_id)
        school = await db.get(School, pupil.school_id) if pupil else None
        zone = zone_of(school)
        local_day = now.astimezone(zone).date()
        day_start = datetime.combine(local_day, time(0), zone)
        bookings = list(
            await db.scalars(
                select(Booking)
                .where(
                    Booking.pupil_id == who.subject_id,
                    Booking.status == "booked",
                    Booking.starts_at >= day_start,
                    Booking.starts_at < day_start + timedelta(days=1),
                )
                .order_by(Booking.starts_at)
            )
        )
        resting = await db.scalar(
            select(func.count())
            .select_from(Booking)
            .where(
                Booking.pupil_id == who.subject_id,
                Booking.status == "cancelled",
                Booking.cancel_reason == UNWELL_REASON,
                Booking.starts_at >= day_start,
                Booking.starts_at < day_start + timedelta(days=1),
            )
        )
        windows = {b.id: booking_window(b, settings) for b in bookings}
        open_now = {b.id for b in bookings if windows[b.id].contains(now)}
        facts = await _facts(db, bookings, school.id if school else None, open_now)
        robots = await device_views(
            db,
            list(
                await db.scalars(
                    select(Device).where(Device.pupil_id == who.subject_id, Device.kind == "robot")
                )
            ),
        )
        week = await my_week(db, who.subject_id, pupil.provider_id if pupil else "", now.date())
    lessons = [_lesson_view(b, zone, now, windows[b.id], facts[b.id]) for b in bookings]
    unwell = request.query.get("unwell", "")
    left = next((lesson for lesson in lessons if lesson["id"] == request.query.get("left")), None)
    return render(
        request,
        who,
        "today.html",
        {
            "title": "Today",
            "unwell": int(unwell) if unwell.isdigit() else None,
            "resting": bool(resting),
            "left": left if left and not left["over"] else None,
            "first_name": pupil.first_name if pupil else who.display_name,
            "school": school,
            "robots": robots,
            "week": week,
            "lessons": lessons,
            "upcoming": [lesson for lesson in lessons if not lesson["over"]],
        },
    )


@routes.page("POST", "/today/unwell", roles=[Role.PUPIL], summary="Too unwell today (tablet)")
async def unwell_today_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Cancels the rest of today's lessons and tells the key worker (a notice) and staff
    (through the booking events)."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as db:
        cancelled, events = await unavailability.unwell_today(db, who, who.subject_id, now)
        notice = await unavailability.unwell_notice(db, who, who.subject_id, cancelled, now)
        await tell_unwell(request.app, db, who.subject_id, [b.id for b in cancelled], now)
        record_request(request, db, who, "pupil.unwell_today", "pupil", who.subject_id)
    HubBookingEvents(request.app[EVENTS]).publish(events)
    if notice is not None:
        await request.app[NOTIFIER].notify(notice)
    raise web.HTTPSeeOther(f"/today?unwell={len(cancelled)}")


@routes.page(
    "GET", "/lessons/{booking_id}", roles=[Role.PUPIL], summary="The live lesson page (tablet)"
)
async def lesson_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """The class full screen with big controls; joining happens from the page's script."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].sessions() as db:
        booking = await db.get(Booking, request.match_info["booking_id"])
        if booking is None or booking.pupil_id != who.subject_id:
            raise NotFound("There is no such lesson for you.")
        school = await db.get(School, booking.school_id)
        window = booking_window(booking, request.app[SETTINGS])
        warn = {booking.id} if window.contains(now) else set()
        facts = await _facts(db, [booking], booking.school_id, warn)
    zone = zone_of(school)
    lesson = _lesson_view(booking, zone, now, window, facts[booking.id])
    return render(
        request,
        who,
        "lesson.html",
        # In a lesson the way out is "Leave lesson": the menu and "Sign out" stay on the today page.
        {"title": booking.subject, "lesson": lesson, "school": school, "in_lesson": True},
        current="/today",
    )
