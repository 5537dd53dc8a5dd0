"""Robots back into their lessons: invited on hello, and a fresh token on request.

A robot that restarts mid-lesson (power, an update, the ``restart`` command, a
crash) or comes online after the lesson's window opened says ``hello`` on its
device socket naming the session it is in (none, after a restart). The
instance holding that socket invites it to every open session of its lessons
that it is not in; the pupil's end re-offers when ``peer_joined`` arrives.
A robot whose session token stopped working (4401) asks for a fresh one with
``session_rejoin``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from device_registry.ports import DeviceLinks
from scheduler.bookings.models import Booking
from telepresence.platform.clock import Clock
from telepresence.platform.database import Database
from telepresence.platform.settings import Settings
from telepresence.sessions import services
from telepresence.sessions.call.protocol import SessionClosed, SessionInvite
from telepresence.sessions.domain import EventKind, Participant
from telepresence.sessions.models import LessonSession

__all__ = ["RobotInvitations", "due_invitations", "invite_robot"]

log = structlog.get_logger("classbridge.sessions")
# A server restart brings every robot back at once: look their lessons up a few at a time.
CONCURRENT_LOOKUPS = 4


async def invite_robot(
    db: AsyncSession, session: LessonSession, subject: str, now: datetime, why: str
) -> SessionInvite:
    """A fresh robot token for ``session``, noted on the timeline.

    The robot's earlier tokens stay valid until the session ends: any of them joins
    as the robot, and a newer socket replaces an older one (4409).
    """
    token = await services.issue_session_token(
        db, session, Participant.ROBOT, now, revoke_earlier=False
    )
    await services.record_event(
        db, session.id, Participant.ROBOT, EventKind.INVITED, {"why": why}, now
    )
    return SessionInvite(
        session_id=session.id,
        token=token,
        closes_at=session.closes_at.isoformat(),
        subject=subject,
    )


async def due_invitations(
    db: AsyncSession, robot_id: str, in_session: str | None, now: datetime, settings: Settings
) -> list[SessionInvite]:
    """Invitations to the open sessions of ``robot_id``'s lessons now, except ``in_session``.

    A lesson whose window is open but whose session was never opened (the robot
    was offline when the window opened) gets its session now. A session that
    ended (the pupil pressed Leave, staff ended it) is left alone: the pupil's
    next join reopens it and invites the robot then.
    """
    robot = await db.get(Device, robot_id)
    if robot is None or robot.lifecycle != "active":
        return []
    grace = timedelta(minutes=settings.session_grace_minutes)
    early = timedelta(minutes=settings.session_join_before_minutes)
    bookings = await db.scalars(
        select(Booking).where(
            Booking.classroom_device_id == robot_id,
            Booking.status == "booked",
            Booking.starts_at <= now + early,
            Booking.ends_at > now - grace,
        )
    )
    invites = []
    for booking in bookings:
        if not services.booking_window(booking, settings).contains(now):
            continue
        session = await db.scalar(
            select(LessonSession).where(LessonSession.booking_id == booking.id)
        )
        if session is not None and (session.status != "open" or session.id == in_session):
            continue
        session = await services.open_session(db, booking, now, settings)
        invites.append(await invite_robot(db, session, booking.subject, now, "robot came online"))
    return invites


class RobotInvitations:
    """Implements ``device_registry.ports.LessonInvitations``; ``close()`` is safe to call twice."""

    def __init__(
        self, database: Database, clock: Clock, settings: Settings, links: DeviceLinks
    ) -> None:
        self.database = database
        self.clock = clock
        self.settings = settings
        self.links = links
        self._lookups = asyncio.Semaphore(CONCURRENT_LOOKUPS)
        self._tasks: set[asyncio.Task[None]] = set()

    def welcomed(self, device_id: str, session_id: str | None) -> None:
        """Look up, in the background, whether the device is missing from a lesson."""
        task = asyncio.get_running_loop().create_task(self._invite(device_id, session_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _invite(self, device_id: str, session_id: str | None) -> None:
        async with self._lookups:
            async with self.database.transaction() as db:
                invites = await due_invitations(
                    db, device_id, session_id, self.clock.now(), self.settings
                )
            for invite in invites:
                sent = await self.links.send(device_id, invite.model_dump())
                log.info("robot_invited", session=invite.session_id, why="hello", sent=sent)

    async def rejoin(self, device_id: str, session_id: str) -> dict[str, Any]:
        """A new invitation to ``session_id`` if it is this robot's and live, else its end."""
        now = self.clock.now()
        async with self.database.transaction() as db:
            session = await db.get(LessonSession, session_id)
            if session is None or session.robot_id != device_id:
                return SessionClosed(session_id=session_id, reason="not your session").model_dump()
            if not services.is_live(session, now):
                reason = session.end_reason or "lesson over"
                return SessionClosed(session_id=session_id, reason=reason).model_dump()
            booking = await db.get(Booking, session.booking_id)
            subject = booking.subject if booking is not None else ""
            invite = await invite_robot(db, session, subject, now, "robot asked")
        log.info("robot_invited", session=session_id, why="rejoin")
        return invite.model_dump()

    async def settled(self) -> None:
        """Wait until the lookups started so far are done (for tests and shutdown)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Stop the lookups still running (the service is shutting down)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
