"""Watching a live lesson through the server's relay: the hospital teacher beside the pupil.

A lesson is a direct call between the pupil's tablet and the classroom robot.
When a member of the hospital school's staff opens "Watch" for a live lesson
of one of their pupils, the server asks the robot (over its device socket) to
send its camera and microphone to the relay as well, and forwards the encoded
frames to the watcher (:mod:`telepresence.sessions.watching.relay`). Nothing is
decoded, recorded or stored; the relay closes when the last watcher leaves,
when the session ends (on any instance) and at the end of its window.

The relay lives in the instance that served the first watcher: with several
instances, ``/api/sessions/{id}/watch`` and ``/api/sessions/{id}/relay`` must
reach the same one (the nginx configuration in ``deploy/`` routes them by
session id).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import select

from device_registry.models import Device
from device_registry.socket import DEVICE_HUB
from scheduler.bookings.models import Booking
from telepresence.organisation.services import display_name
from telepresence.platform.errors import Conflict, NotFound
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS, SETTINGS
from telepresence.platform.http.rendering import render
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import AuthToken, Pupil, School, User, zone_of
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import Principal, Role
from telepresence.sessions import services
from telepresence.sessions.call.protocol import RelayInvite, RelayStop
from telepresence.sessions.call.signalling import topic
from telepresence.sessions.domain import EventKind, ice_servers
from telepresence.sessions.joining.readiness import OfferIn
from telepresence.sessions.models import LessonSession, SessionEvent
from telepresence.tablet.whereabouts import robot_whereabouts

__all__ = ["RELAYS", "RelayHub", "drop_revoked_watchers", "routes"]

log = structlog.get_logger("classbridge.relay")
routes = Routes("watch")


class RelayHub:
    """The lesson relays of this process, one per session being watched."""

    def __init__(self) -> None:
        self._relays: dict[str, Any] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}

    def get(self, session_id: str) -> Any | None:
        return self._relays.get(session_id)

    def open(
        self, app: web.Application, session: LessonSession, ice: list[dict[str, Any]]
    ) -> tuple[Any, bool]:
        """The session's relay, made if there is none; ``(relay, new)``."""
        from telepresence.agent.lesson import ice_configuration
        from telepresence.sessions.watching.relay import LessonRelay

        relay = self._relays.get(session.id)
        if relay is not None:
            return relay, False
        session_id, robot_id = session.id, session.robot_id

        async def gone(viewer_id: str) -> None:
            await self.viewer_left(app, session_id, robot_id, viewer_id)

        relay = LessonRelay(
            ice_configuration(ice),
            max_viewers=app[SETTINGS].relay_max_viewers,
            on_viewer_gone=gone,
        )
        self._relays[session.id] = relay
        self._watchers[session.id] = asyncio.create_task(
            self._close_when_over(app, session.id, session.robot_id, session.closes_at)
        )
        return relay, True

    async def _close_when_over(
        self, app: web.Application, session_id: str, robot_id: str, closes_at: datetime
    ) -> None:
        """Close the relay when the session ends anywhere, or its window closes."""
        left = (closes_at - app[CLOCK].now()).total_seconds()
        with contextlib.suppress(TimeoutError):
            async with app[EVENTS].subscribe(topic(session_id, "all")) as queue:
                async with asyncio.timeout(max(left, 0)):
                    while (await queue.get()).get("type") != "ended":
                        pass
        self._watchers.pop(session_id, None)
        await self._stop(app, session_id, robot_id)

    async def viewer_left(
        self, app: web.Application, session_id: str, robot_id: str, viewer_id: str
    ) -> None:
        """Record it; the last one out closes the relay and stops the robot's upload."""
        async with app[DATABASE].transaction() as db:
            await services.record_event(
                db,
                session_id,
                None,
                EventKind.STOPPED_WATCHING,
                {"watcher": viewer_id},
                app[CLOCK].now(),
            )
        await announce_watchers(app, session_id)
        relay = self._relays.get(session_id)
        if relay is not None and not relay.viewers:
            await self._stop(app, session_id, robot_id)

    async def _stop(self, app: web.Application, session_id: str, robot_id: str) -> None:
        """Close the session's relay and tell its robot to stop sending to it."""
        await self.close(session_id)
        await app[DEVICE_HUB].send_anywhere(robot_id, RelayStop(session_id=session_id).model_dump())

    async def close(self, session_id: str) -> None:
        relay = self._relays.pop(session_id, None)
        watcher = self._watchers.pop(session_id, None)
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
        if relay is not None:
            await relay.close()

    async def close_all(self) -> None:
        for session_id in list(self._relays):
            await self.close(session_id)

    def watchers(self) -> dict[str, list[str]]:
        """Who watches each session relayed here: session id -> viewer (user) ids."""
        return {session_id: relay.viewers for session_id, relay in self._relays.items()}


RELAYS = web.AppKey("lesson_relays", RelayHub)


async def drop_revoked_watchers(app: web.Application) -> int:
    """Stop relaying to watchers with no live sign-in left (deactivated, signed out everywhere).

    Run by the revocation sweep twice a second; returns how many it dropped.
    """
    hub = app[RELAYS]
    watched = hub.watchers()
    viewer_ids = {v for viewers in watched.values() for v in viewers}
    if not viewer_ids:
        return 0
    async with app[DATABASE].sessions() as db:
        allowed = set(
            await db.scalars(
                select(AuthToken.user_id)
                .join(User, User.id == AuthToken.user_id)
                .where(
                    AuthToken.user_id.in_(viewer_ids),
                    AuthToken.revoked_at.is_(None),
                    AuthToken.expires_at > app[CLOCK].now(),
                    User.active.is_(True),
                )
                .distinct()
            )
        )
        rows = await db.execute(
            select(LessonSession.id, LessonSession.robot_id).where(
                LessonSession.id.in_(list(watched))
            )
        )
        robots = {row.id: row.robot_id for row in rows}
    dropped = 0
    for session_id, viewers in watched.items():
        if session_id not in robots:  # the session itself is gone: nothing left to watch
            await hub.close(session_id)
            continue
        for viewer_id in set(viewers) - allowed:
            relay = hub.get(session_id)
            if relay is not None and await relay.remove_viewer(viewer_id):
                dropped += 1
                log.info("relay_watcher_revoked", session=session_id)
                await hub.viewer_left(app, session_id, robots[session_id], viewer_id)
    return dropped


async def watcher_names(db: Any, session_id: str) -> list[str]:
    """Who watches a session now (from its timeline), as "Grace A.", for both ends to show."""
    rows = await db.execute(
        select(SessionEvent.kind, SessionEvent.data)
        .where(
            SessionEvent.session_id == session_id,
            SessionEvent.kind.in_([EventKind.WATCHING.value, EventKind.STOPPED_WATCHING.value]),
        )
        .order_by(SessionEvent.id)
    )
    watching: dict[str, int] = {}
    for kind, data in rows:
        who = str((data or {}).get("watcher", ""))
        watching[who] = watching.get(who, 0) + (1 if kind == EventKind.WATCHING.value else -1)
    ids = [who for who, n in watching.items() if n > 0]
    if not ids:
        return []
    users = await db.scalars(select(User).where(User.id.in_(ids)))
    names = [u.name.split() or [""] for u in users]
    return sorted(display_name(n[0], n[-1] if len(n) > 1 else "") for n in names)


async def announce_watchers(app: web.Application, session_id: str) -> None:
    """Tell both ends of the session who is watching (nobody is watched without knowing)."""
    async with app[DATABASE].sessions() as db:
        names = await watcher_names(db, session_id)
    app[EVENTS].publish(topic(session_id, "all"), {"type": "watching", "watchers": names})


class WatchOut(BaseModel):
    """The relay's answer."""

    sdp: str
    session_id: str
    closes_at: datetime


class WatchInfo(BaseModel):
    """What a watcher needs before offering: the ICE servers and what the lesson is."""

    session_id: str
    subject: str
    pupil: str
    closes_at: datetime
    ice_servers: list[dict[str, Any]]


async def _live_session(
    request: web.Request, who: Principal
) -> tuple[LessonSession, Booking, Pupil]:
    """The session, if it is live now and its pupil is in the caller's provider."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].sessions() as db:
        session = await db.get(LessonSession, request.match_info["session_id"])
        pupil = await db.get(Pupil, session.pupil_id) if session else None
        booking = await db.get(Booking, session.booking_id) if session else None
    if session is None or pupil is None or booking is None or pupil.provider_id != who.provider_id:
        raise NotFound("There is no such session.")
    if not services.is_live(session, now):
        raise Conflict("This lesson is not live now.")
    return session, booking, pupil


def _ice(request: web.Request, session: LessonSession) -> list[dict[str, Any]]:
    return ice_servers(services.turn_settings(request.app[SETTINGS]), session.id, session.closes_at)


def _relay_on(request: web.Request) -> None:
    if request.app[SETTINGS].relay_max_viewers == 0:
        raise Conflict("Watching through the server is turned off for this service.")


def _short(pupil: Pupil) -> str:
    return display_name(pupil.first_name, pupil.last_name)


@routes.api(
    "GET",
    "/api/sessions/{session_id}/watch",
    roles=[Role.HOSPITAL_STAFF],
    response=WatchInfo,
    errors=(404, 409),
    summary="Before watching a live lesson: its ICE servers",
)
async def watch_info(request: web.Request, who: Principal) -> WatchInfo:
    """Hospital school staff of the pupil's provider, while the lesson is live."""
    _relay_on(request)
    session, booking, pupil = await _live_session(request, who)
    return WatchInfo(
        session_id=session.id,
        subject=booking.subject,
        pupil=_short(pupil),
        closes_at=session.closes_at,
        ice_servers=_ice(request, session),
    )


@routes.api(
    "POST",
    "/api/sessions/{session_id}/watch",
    roles=[Role.HOSPITAL_STAFF],
    body=OfferIn,
    response=WatchOut,
    errors=(404, 409),
    summary="Watch a live lesson through the relay: offer (receive only) → answer",
)
async def watch(request: web.Request, who: Principal, body: OfferIn) -> WatchOut:
    """The robot is asked to send to the relay too; recorded in the timeline and audit log."""
    from telepresence.sessions.watching.relay import RelayFull

    _relay_on(request)
    session, _booking, pupil = await _live_session(request, who)
    relay, new = request.app[RELAYS].open(request.app, session, _ice(request, session))
    try:
        answer = await relay.add_viewer(who.subject_id, body.sdp)
    except RelayFull as exc:
        raise Conflict(str(exc)) from exc
    except ValueError as exc:  # aiortc refuses an offer it cannot answer (e.g. no VP8)
        if new:
            await request.app[RELAYS].close(session.id)
        raise Conflict(f"This offer cannot be relayed: {exc}") from exc
    if new or not relay.has_upstream:
        invite = RelayInvite(
            session_id=session.id,
            offer_path=f"/api/sessions/{session.id}/relay",
            ice_servers=_ice(request, session),
        )
        await request.app[DEVICE_HUB].send_anywhere(session.robot_id, invite.model_dump())
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as db:
        await services.record_event(
            db, session.id, None, EventKind.WATCHING, {"watcher": who.subject_id}, now
        )
        record_request(request, db, who, "session.watch", "pupil", pupil.id)
    await announce_watchers(request.app, session.id)
    log.info("relay_watcher_joined", session=session.id, watchers=len(relay.viewers))
    return WatchOut(sdp=answer, session_id=session.id, closes_at=session.closes_at)


@routes.api(
    "DELETE",
    "/api/sessions/{session_id}/watch",
    roles=[Role.HOSPITAL_STAFF],
    status=204,
    errors=(404,),
    summary="Stop watching a lesson",
)
async def stop_watching(request: web.Request, who: Principal) -> None:
    """The relay closes, and the robot stops sending to it, when nobody watches."""
    session_id = request.match_info["session_id"]
    hub = request.app[RELAYS]
    relay = hub.get(session_id)
    if relay is None or who.subject_id not in relay.viewers:
        raise NotFound("You are not watching this lesson.")
    if await relay.remove_viewer(who.subject_id):
        async with request.app[DATABASE].sessions() as db:
            session = await db.get(LessonSession, session_id)
        assert session is not None
        await hub.viewer_left(request.app, session_id, session.robot_id, who.subject_id)


@routes.api(
    "POST",
    "/api/sessions/{session_id}/relay",
    roles=[Role.DEVICE],
    body=OfferIn,
    response=WatchOut,
    errors=(404, 409),
    summary="The lesson's robot sends its media to the relay: offer (send only) → answer",
)
async def relay_upstream(request: web.Request, who: Principal, body: OfferIn) -> WatchOut:
    """Only the session's own robot, only while somebody watches."""
    async with request.app[DATABASE].sessions() as db:
        session = await db.get(LessonSession, request.match_info["session_id"])
    if session is None or session.robot_id != who.subject_id:
        raise NotFound("There is no such session for this device.")
    if not services.is_live(session, request.app[CLOCK].now()):
        raise Conflict("This lesson is not live now.")
    relay = request.app[RELAYS].get(session.id)
    if relay is None:
        raise Conflict("Nobody is watching this lesson through the relay.")
    try:
        answer = await relay.accept_upstream(body.sdp)
    except ValueError as exc:
        raise Conflict(f"This offer cannot be relayed: {exc}") from exc
    return WatchOut(sdp=answer, session_id=session.id, closes_at=session.closes_at)


class LiveLesson(BaseModel):
    session_id: str
    subject: str
    pupil: str
    room: str
    ends: str
    watchable: bool


@routes.page(
    "GET",
    "/watch",
    roles=[Role.HOSPITAL_STAFF],
    summary="Lessons live now for the provider's pupils, to watch alongside a pupil",
)
async def live_lessons_page(request: web.Request, who: Principal) -> web.StreamResponse:
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].sessions() as db:
        rows = (
            await db.execute(
                select(LessonSession, Booking, Pupil, Device, School.time_zone)
                .join(Booking, Booking.id == LessonSession.booking_id)
                .join(School, School.id == Booking.school_id)
                .join(Pupil, Pupil.id == LessonSession.pupil_id)
                .join(Device, Device.id == LessonSession.robot_id)
                .where(
                    Pupil.provider_id == who.provider_id,
                    LessonSession.status == "open",
                    LessonSession.opens_at <= now,
                    LessonSession.closes_at > now,
                )
                .order_by(Booking.starts_at)
            )
        ).all()
    on = request.app[SETTINGS].relay_max_viewers > 0
    lessons = [
        LiveLesson(
            session_id=s.id,
            subject=b.subject,
            pupil=_short(p),
            room=b.room or "",
            ends=f"{b.ends_at.astimezone(ZoneInfo(zone)):%H:%M}",
            watchable=on and d.online,
        )
        for s, b, p, d, zone in rows
    ]
    return render(
        request,
        who,
        "live_lessons.html",
        {"title": "Live lessons", "lessons": lessons, "relay_on": on},
        current="/watch",
    )


@routes.page(
    "GET",
    "/watch/{session_id}",
    roles=[Role.HOSPITAL_STAFF],
    summary="Watch a live lesson alongside the pupil (through the relay)",
)
async def watch_page(request: web.Request, who: Principal) -> web.StreamResponse:
    _relay_on(request)
    session, booking, pupil = await _live_session(request, who)
    async with request.app[DATABASE].sessions() as db:
        school = await db.get(School, booking.school_id)
        where = await robot_whereabouts(db, booking)
    zone = zone_of(school)
    return render(
        request,
        who,
        "watch.html",
        {
            "title": f"Watching {booking.subject}",
            "session": session,
            "subject": booking.subject,
            "pupil": _short(pupil),
            "room": booking.room or "",
            "ends": f"{booking.ends_at.astimezone(zone):%H:%M}",
            "room_warning": where.for_staff() if where.elsewhere else "",
        },
        current="/watch",
    )
