"""Timed job of live sessions: end those whose window has closed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from device_registry.hub import OUTBOX_TOPIC
from device_registry.models import Device
from scheduler.bookings.models import Booking
from telepresence.platform.jobs.runner import JobContext
from telepresence.sessions import services
from telepresence.sessions.call.signalling import topic
from telepresence.sessions.joining.invitations import invite_robot
from telepresence.sessions.models import LessonSession

__all__ = ["end_finished_sessions", "prepare_sessions"]


async def end_finished_sessions(ctx: JobContext) -> int:
    """End every open session past its window (a lesson's end plus the grace)."""
    now = ctx.clock.now()
    ended = []
    async with ctx.database.transaction() as db:
        due = list(
            await db.scalars(
                select(LessonSession.id).where(
                    LessonSession.status == "open", LessonSession.closes_at <= now
                )
            )
        )
        for session_id in due:
            if await services.end_session(db, session_id, "lesson over", now):
                ended.append(session_id)
    for session_id in ended:
        ctx.events.publish(topic(session_id, "all"), {"type": "ended", "reason": "lesson over"})
    return len(ended)


async def prepare_sessions(ctx: JobContext) -> int:
    """Open the sessions of lessons whose window has opened, and invite their robots.

    The robot is then waiting in the session when the pupil taps Join, so the
    class appears as fast as a direct connection allows. Returns how many
    robots were invited.
    """
    now, settings = ctx.clock.now(), ctx.settings
    opens_before = now + timedelta(minutes=settings.session_join_before_minutes)
    invites = []
    async with ctx.database.transaction() as db:
        due = list(
            await db.scalars(
                select(Booking)
                .join(Device, Device.id == Booking.classroom_device_id)
                .outerjoin(LessonSession, LessonSession.booking_id == Booking.id)
                .where(
                    Booking.status == "booked",
                    Booking.starts_at <= opens_before,
                    Booking.ends_at > now,
                    LessonSession.id.is_(None),
                    Device.online.is_(True),
                    Device.lifecycle == "active",
                )
            )
        )
        for booking in due:
            session = await services.open_session(db, booking, now, settings)
            invite = await invite_robot(db, session, booking.subject, now, "window opened")
            invites.append((session.robot_id, invite))
    for robot_id, invite in invites:
        ctx.events.publish(OUTBOX_TOPIC, {"device_id": robot_id, "message": invite.model_dump()})
    return len(invites)
