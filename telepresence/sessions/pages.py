"""The pupil's tablet: today's lessons, and the lesson page with the class on screen."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from device_registry.models import Device
from device_registry.views import device_views
from scheduler.bookings.models import Booking
from telepresence.platform.audit import record_request
from telepresence.platform.context import CLOCK, DATABASE, EVENTS, SETTINGS
from telepresence.platform.errors import NotFound
from telepresence.platform.identity import Principal, Role
from telepresence.platform.models import Pupil, School
from telepresence.platform.rendering import render
from telepresence.platform.routing import Routes
from telepresence.sessions.services import booking_window

__all__ = ["routes"]

routes = Routes("lesson-pages")


def _lesson_view(booking: Booking, zone: ZoneInfo, now: datetime, window: Any) -> dict[str, Any]:
    start, end = booking.starts_at.astimezone(zone), booking.ends_at.astimezone(zone)
    return {
        "id": booking.id,
        "subject": booking.subject,
        "room": booking.room,
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "starts_at": booking.starts_at.isoformat(),
        "opens_at": window.opens.isoformat(),
        "joinable": window.contains(now),
        "over": now >= window.closes,
    }


@routes.page("GET", "/today", roles=[Role.PUPIL], summary="Pupil's today page (tablet)")
async def today_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Today's booked lessons in the school's time, each with Join in its window."""
    now = request.app[CLOCK].now()
    settings = request.app[SETTINGS]
    async with request.app[DATABASE].sessions() as db:
        pupil = await db.get(Pupil, who.subject_id)
        school = await db.get(School, pupil.school_id) if pupil else None
        zone = ZoneInfo(school.time_zone if school else "Europe/London")
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
        robots = await device_views(
            db,
            list(
                await db.scalars(
                    select(Device).where(Device.pupil_id == who.subject_id, Device.kind == "robot")
                )
            ),
        )
    lessons = [_lesson_view(b, zone, now, booking_window(b, settings)) for b in bookings]
    unwell = request.query.get("unwell", "")
    return render(
        request,
        who,
        "today.html",
        {
            "title": "Today",
            "unwell": int(unwell) if unwell.isdigit() else None,
            "first_name": pupil.first_name if pupil else who.display_name,
            "school": school,
            "robots": robots,
            "lessons": lessons,
            "upcoming": [lesson for lesson in lessons if not lesson["over"]],
        },
    )


@routes.page("POST", "/today/unwell", roles=[Role.PUPIL], summary="Too unwell today (tablet)")
async def unwell_today_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Cancels the rest of today's lessons and tells staff (through the booking events)."""
    from scheduler.bookings import services as bookings
    from scheduler.bookings.events import HubBookingEvents

    async with request.app[DATABASE].transaction() as db:
        cancelled, events = await bookings.unwell_today(
            db, who, who.subject_id, request.app[CLOCK].now()
        )
        record_request(request, db, who, "pupil.unwell_today", "pupil", who.subject_id)
    HubBookingEvents(request.app[EVENTS]).publish(events)
    raise web.HTTPSeeOther(f"/today?unwell={len(cancelled)}")


@routes.page(
    "GET", "/lessons/{booking_id}", roles=[Role.PUPIL], summary="The live lesson page (tablet)"
)
async def lesson_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """The class full screen with big controls; joining happens from the page's script."""
    async with request.app[DATABASE].sessions() as db:
        booking = await db.get(Booking, request.match_info["booking_id"])
        if booking is None or booking.pupil_id != who.subject_id:
            raise NotFound("There is no such lesson for you.")
        school = await db.get(School, booking.school_id)
    zone = ZoneInfo(school.time_zone if school else "Europe/London")
    window = booking_window(booking, request.app[SETTINGS])
    lesson = _lesson_view(booking, zone, request.app[CLOCK].now(), window)
    return render(
        request,
        who,
        "lesson.html",
        {"title": booking.subject, "lesson": lesson, "school": school},
        current="/today",
    )
