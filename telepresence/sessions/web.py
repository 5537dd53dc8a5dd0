"""HTTP routes and the socket of live sessions."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import select

from device_registry.socket import DEVICE_HUB
from scheduler.bookings.models import Booking
from telepresence.platform.errors import NotFound
from telepresence.platform.http.context import (
    BACKGROUND,
    CLOCK,
    DATABASE,
    EVENTS,
    NOTIFIER,
    SETTINGS,
)
from telepresence.platform.http.routing import Routes
from telepresence.platform.security.identity import STAFF, Principal, Role
from telepresence.sessions import services
from telepresence.sessions.call.protocol import SessionClosed
from telepresence.sessions.call.signalling import SESSION_ROOMS, serve_session_socket, topic
from telepresence.sessions.domain import Participant
from telepresence.sessions.joining.invitations import invite_robot
from telepresence.sessions.models import LessonSession, SessionEvent, SessionToken
from telepresence.sessions.schemas import JoinOut, SessionEventOut, SessionOut
from telepresence.tablet.whereabouts import elsewhere_notices, robot_whereabouts

__all__ = ["routes"]

routes = Routes("sessions")
routes.socket(
    "/ws/session",
    roles=[Role.PUPIL, Role.DEVICE],
    summary="Session signalling (docs/protocol.md); authenticated by a session token",
)(serve_session_socket)


async def _robot_needs_invite(request: web.Request, session: LessonSession) -> bool:
    if request.app[SESSION_ROOMS].present(session.id, Participant.ROBOT):
        return False
    async with request.app[DATABASE].sessions() as db:
        last = await db.scalar(
            select(SessionEvent.kind)
            .where(SessionEvent.session_id == session.id, SessionEvent.participant == "robot")
            .order_by(SessionEvent.id.desc())
            .limit(1)
        )
        live_token = await db.scalar(
            select(SessionToken.id).where(
                SessionToken.session_id == session.id,
                SessionToken.participant == "robot",
                SessionToken.revoked_at.is_(None),
            )
        )
    return live_token is None or last not in {"joined", "reconnected"}


@routes.api(
    "POST",
    "/api/bookings/{booking_id}/join",
    roles=[Role.PUPIL],
    response=JoinOut,
    errors=(404, 409),
    summary="Join a booked lesson: open or resume its live session",
)
async def join(request: web.Request, who: Principal) -> JoinOut:
    """Inside the lesson's window only; the robot is invited over its device socket."""
    now = request.app[CLOCK].now()
    settings = request.app[SETTINGS]
    async with request.app[DATABASE].transaction() as db:
        ticket, session = await services.join_as_pupil(
            db, who, request.match_info["booking_id"], now, settings
        )
    if await _robot_needs_invite(request, session):
        async with request.app[DATABASE].transaction() as db:
            invite = await invite_robot(db, session, ticket.subject, now, "pupil joined")
        await request.app[DEVICE_HUB].send_anywhere(session.robot_id, invite.model_dump())
    # Telling people may wait on a slow mail server: the child's join does not.
    request.app[BACKGROUND].spawn(
        _tell_if_robot_elsewhere(request.app, ticket.booking_id), name="robot-elsewhere"
    )
    return JoinOut(
        session_id=ticket.session_id,
        booking_id=ticket.booking_id,
        participant=ticket.participant.value,
        token=ticket.token,
        ice_servers=ticket.ice_servers,
        closes_at=ticket.closes_at,
        subject=ticket.subject,
        pupil_camera=ticket.pupil_camera,
    )


# The call is set up in the first few hundred milliseconds after the join (offer, answer,
# ICE, first frame): the notices' queries and writes start after it, instead of taking the
# event loop and the database (SQLite's one writer) from it.
TELL_AFTER_JOIN_S = 1.0


async def _tell_if_robot_elsewhere(app: web.Application, booking_id: str) -> None:
    """The pupil is joining: if the robot is probably not in the lesson's room, the school
    contacts and key worker are told (once per lesson; a rejoin finds the notices sent)."""
    await asyncio.sleep(TELL_AFTER_JOIN_S)
    async with app[DATABASE].sessions() as db:
        booking = await db.get(Booking, booking_id)
        if booking is None:
            return
        notices = await elsewhere_notices(db, booking, await robot_whereabouts(db, booking))
    for notice in notices:
        await app[NOTIFIER].notify(notice)


async def _visible_session(request: web.Request, who: Principal) -> LessonSession:
    async with request.app[DATABASE].sessions() as db:
        session = await db.get(LessonSession, request.match_info["session_id"])
        from telepresence.platform.models import Pupil

        pupil = await db.get(Pupil, session.pupil_id) if session else None
    visible = (
        session is not None
        and pupil is not None
        and (
            (who.role is Role.PUPIL and pupil.id == who.subject_id)
            or (who.is_staff and pupil.provider_id == who.provider_id)
        )
    )
    if not visible or session is None:
        raise NotFound("There is no such session.")
    return session


def _session_out(s: LessonSession) -> SessionOut:
    return SessionOut(
        id=s.id,
        booking_id=s.booking_id,
        status=s.status,
        mode=s.mode,
        opens_at=s.opens_at,
        closes_at=s.closes_at,
        ended_at=s.ended_at,
        end_reason=s.end_reason,
    )


@routes.api(
    "GET",
    "/api/sessions/{session_id}",
    roles=[*STAFF, Role.PUPIL],
    response=SessionOut,
    errors=(404,),
    summary="A live session's state",
)
async def get_session(request: web.Request, who: Principal) -> SessionOut:
    """Staff of the pupil's provider, or the pupil."""
    return _session_out(await _visible_session(request, who))


@routes.api(
    "GET",
    "/api/sessions/{session_id}/events",
    roles=list(STAFF),
    response=list[SessionEventOut],
    errors=(404,),
    summary="A session's timeline: joins, gaps, controls, quality",
)
async def session_events(request: web.Request, who: Principal) -> list[SessionEventOut]:
    """Oldest first."""
    session = await _visible_session(request, who)
    async with request.app[DATABASE].sessions() as db:
        rows = await db.scalars(
            select(SessionEvent)
            .where(SessionEvent.session_id == session.id)
            .order_by(SessionEvent.id)
        )
        return [
            SessionEventOut(at=r.at, participant=r.participant, kind=r.kind, data=r.data)
            for r in rows
        ]


@routes.api(
    "POST",
    "/api/sessions/{session_id}/end",
    roles=[Role.ADMIN, Role.HOSPITAL_STAFF],
    status=204,
    errors=(404,),
    summary="End a live session for both ends now",
)
async def end(request: web.Request, who: Principal) -> None:
    """For staff: safeguarding or a lesson that should not go on."""
    session = await _visible_session(request, who)
    await end_and_tell(request.app, session, f"ended by {who.role.value}")


async def end_and_tell(app: web.Application, session: LessonSession, reason: str) -> None:
    """End the session once, tell both ends and the robot's agent."""
    async with app[DATABASE].transaction() as db:
        ended = await services.end_session(db, session.id, reason, app[CLOCK].now())
    if ended:
        app[EVENTS].publish(topic(session.id, "all"), {"type": "ended", "reason": reason})
        await app[DEVICE_HUB].send_anywhere(
            session.robot_id, SessionClosed(session_id=session.id, reason=reason).model_dump()
        )
