"""The session socket ``/ws/session``: signalling between the two ends of one lesson.

Messages reach the other end through the event hub (topic per session and
end), so the two ends may be connected to different instances: the
PostgreSQL bridge carries the topic across. Only the two participants of the
session ever receive anything, and only while its window is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import WSMsgType, web
from pydantic import ValidationError

from telepresence.platform.context import CLOCK, DATABASE, EVENTS
from telepresence.platform.context import SETTINGS as SETTINGS_KEY
from telepresence.platform.errors import validation_errors
from telepresence.platform.metrics import METRICS
from telepresence.sessions import services
from telepresence.sessions.domain import EventKind, Participant, ice_servers, sends_video
from telepresence.sessions.protocol import (
    CANDIDATES_PER_OFFER,
    MAX_FRAME_BYTES,
    MESSAGES_PER_SECOND,
    AnswerMessage,
    CandidateMessage,
    EndMessage,
    EventMessage,
    JoinMessage,
    LeaveMessage,
    OfferMessage,
    QualityMessage,
    parse_client_message,
)

__all__ = ["CLOSE_ENDED", "SESSION_ROOMS", "SessionRooms", "serve_session_socket", "topic"]

log = structlog.get_logger("classbridge.sessions")
CLOSE_PROTOCOL = 4400
CLOSE_AUTH = 4401
CLOSE_JOIN_TIMEOUT = 4408
CLOSE_REPLACED = 4409
CLOSE_ENDED = 4410
JOIN_TIMEOUT_S = 10.0
RECHECK_S = 5.0
QUALITY_EVERY_S = 2.0


def topic(session_id: str, to: Participant | str) -> str:
    """The event topic of messages for one end of a session (or ``all``)."""
    return f"session:{session_id}:{to}"


class SessionRooms:
    """The session sockets open in this process, one per session and end."""

    def __init__(self) -> None:
        self._sockets: dict[tuple[str, Participant], web.WebSocketResponse] = {}

    async def enter(self, session_id: str, who: Participant, ws: web.WebSocketResponse) -> None:
        """Register a socket, replacing (4409) an older one of the same end."""
        old = self._sockets.get((session_id, who))
        self._sockets[(session_id, who)] = ws
        if old is not None and old is not ws:
            await old.close(code=CLOSE_REPLACED, message=b"joined again elsewhere")

    def leave(self, session_id: str, who: Participant, ws: web.WebSocketResponse) -> None:
        """Forget a socket unless a newer one replaced it."""
        if self._sockets.get((session_id, who)) is ws:
            del self._sockets[(session_id, who)]

    def ends(self) -> dict[tuple[str, Participant], web.WebSocketResponse]:
        """Every open socket by session and end (a copy: the revocation sweep closes some)."""
        return dict(self._sockets)

    def present(self, session_id: str, who: Participant) -> bool:
        """Whether that end is connected to this process."""
        return (session_id, who) in self._sockets

    async def close_all(self) -> None:
        """Close every socket (the server is going away; ends will rejoin)."""
        for ws in list(self._sockets.values()):
            await ws.close(code=1001, message=b"server restarting")


SESSION_ROOMS = web.AppKey("session_rooms", SessionRooms)


def _error(code: str, detail: str, ref: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail, "id": ref, **extra}


@dataclass
class _Peer:
    """One connected end and its budgets."""

    ws: web.WebSocketResponse
    session_id: str
    participant: Participant
    token_id: str
    tokens: float = float(MESSAGES_PER_SECOND * 2)
    updated: float = field(default_factory=time.monotonic)
    candidates: int = 0
    last_quality: float = 0.0
    pupil_camera: bool = False  # the token's grant: may this end offer to send video?
    refused: bool = False  # the message being handled was refused (no ack for it)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(
            MESSAGES_PER_SECOND * 2.0, self.tokens + (now - self.updated) * MESSAGES_PER_SECOND
        )
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


async def _await_join(ws: web.WebSocketResponse) -> JoinMessage | None:
    try:
        msg = await ws.receive(timeout=JOIN_TIMEOUT_S)
    except TimeoutError:
        await ws.close(code=CLOSE_JOIN_TIMEOUT, message=b"join expected")
        return None
    if msg.type != WSMsgType.TEXT:
        await ws.close(code=CLOSE_PROTOCOL, message=b"join expected")
        return None
    try:
        first = parse_client_message(msg.data)
    except ValidationError as exc:
        await ws.send_json(
            _error(
                "invalid_message",
                "The first message must be a join.",
                errors=validation_errors(exc),
            )
        )
        await ws.close(code=CLOSE_PROTOCOL, message=b"join expected")
        return None
    if not isinstance(first, JoinMessage):
        await ws.send_json(_error("join_first", "Join before anything else.", first.id))
        await ws.close(code=CLOSE_PROTOCOL, message=b"join expected")
        return None
    if 1 not in first.protocol:
        await ws.send_json(_error("invalid_message", "Supported protocol versions: [1]."))
        await ws.close(code=4426, message=b"no common protocol version")
        return None
    return first


async def serve_session_socket(request: web.Request, _endpoint: Any) -> web.StreamResponse:
    """Authenticate by the first message (browsers cannot set headers), then relay."""
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4 * MAX_FRAME_BYTES)
    await ws.prepare(request)
    join = await _await_join(ws)
    if join is None:
        return ws
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as db:
        holder = await services.resolve_session_token(db, join.token, now)
        if holder is not None:
            earlier = await _has_joined_before(db, holder)
            kind = EventKind.RECONNECTED if earlier else EventKind.JOINED
            await services.record_event(db, holder.session.id, holder.participant, kind, {}, now)
    request.app[METRICS].signalling("join", "ok" if holder is not None else "unauthorised")
    if holder is None:
        await ws.send_json(_error("unauthorised", "This session token is not valid now.", join.id))
        await ws.close(code=CLOSE_AUTH, message=b"invalid session token")
        return ws
    peer = _Peer(
        ws=ws,
        session_id=holder.session.id,
        participant=holder.participant,
        token_id=holder.token_id,
        pupil_camera=holder.pupil_camera,
    )
    await _run_peer(request, peer, holder, join)
    return ws


async def _has_joined_before(db: Any, holder: services.TokenHolder) -> bool:
    from sqlalchemy import func, select

    from telepresence.sessions.models import SessionEvent

    count = await db.scalar(
        select(func.count())
        .select_from(SessionEvent)
        .where(
            SessionEvent.session_id == holder.session.id,
            SessionEvent.participant == holder.participant.value,
            SessionEvent.kind.in_([EventKind.JOINED.value, EventKind.RECONNECTED.value]),
        )
    )
    return bool(count)


async def _run_peer(
    request: web.Request, peer: _Peer, holder: services.TokenHolder, join: JoinMessage
) -> None:
    app = request.app
    rooms, events = app[SESSION_ROOMS], app[EVENTS]
    session = holder.session
    await rooms.enter(session.id, peer.participant, peer.ws)
    try:
        async with events.subscribe(
            topic(session.id, peer.participant), topic(session.id, "all")
        ) as inbox:
            ice = ice_servers(
                services.turn_settings(app[SETTINGS_KEY]), session.id, session.closes_at
            )
            await peer.ws.send_json(
                {
                    "type": "joined",
                    "id": join.id,
                    "protocol": 1,
                    "session_id": session.id,
                    "participant": peer.participant.value,
                    "ice_servers": ice,
                    "closes_at": session.closes_at.isoformat(),
                    "peer_present": rooms.present(session.id, peer.participant.peer),
                    "pupil_camera": peer.pupil_camera,
                }
            )
            events.publish(
                topic(session.id, peer.participant.peer),
                {"type": "peer_joined", "participant": peer.participant.value},
            )
            writer = asyncio.create_task(_write(peer, inbox))
            watchers = asyncio.create_task(_tell_watchers(app, session.id, inbox))
            try:
                await _read(request, peer)
            finally:
                for task in (writer, watchers):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
    finally:
        rooms.leave(session.id, peer.participant, peer.ws)
        events.publish(
            topic(session.id, peer.participant.peer),
            {"type": "peer_left", "participant": peer.participant.value},
        )
        async with app[DATABASE].transaction() as db:
            await services.record_event(
                db,
                session.id,
                peer.participant,
                EventKind.LEFT,
                {"close_code": peer.ws.close_code},
                app[CLOCK].now(),
            )


async def _tell_watchers(
    app: web.Application, session_id: str, inbox: asyncio.Queue[dict[str, Any]]
) -> None:
    """A participant (re)joining learns who is watching through the relay, if anyone is."""
    from telepresence.sessions.watch import watcher_names

    async with app[DATABASE].sessions() as db:
        names = await watcher_names(db, session_id)
    if names:
        inbox.put_nowait({"type": "watching", "watchers": names})


async def _write(peer: _Peer, inbox: asyncio.Queue[dict[str, Any]]) -> None:
    while not peer.ws.closed:
        message = await inbox.get()
        await peer.ws.send_json(message)
        if message.get("type") == "ended":
            await peer.ws.close(code=CLOSE_ENDED, message=b"session ended")
            return


async def _read(request: web.Request, peer: _Peer) -> None:
    last_check = time.monotonic()
    while not peer.ws.closed:
        try:
            msg = await peer.ws.receive(timeout=RECHECK_S)
        except TimeoutError:
            msg = None
        if time.monotonic() - last_check >= RECHECK_S:
            last_check = time.monotonic()
            if not await _still_valid(request, peer):
                return
        if msg is None:
            continue
        if msg.type in {WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR}:
            return
        if msg.type != WSMsgType.TEXT:
            await peer.ws.send_json(_error("invalid_message", "Send JSON text frames."))
            continue
        if not await _handle(request, peer, msg.data):
            return


async def _still_valid(request: web.Request, peer: _Peer) -> bool:
    app = request.app
    now = app[CLOCK].now()
    async with app[DATABASE].transaction() as db:
        if await services.token_is_live(db, peer.token_id, now):
            return True
        ended = (
            await services.end_session(db, peer.session_id, "lesson over", now)
            if await _window_over(db, peer, now)
            else False
        )
    if ended:
        app[EVENTS].publish(
            topic(peer.session_id, "all"), {"type": "ended", "reason": "lesson over"}
        )
    await peer.ws.send_json({"type": "ended", "reason": "token no longer valid"})
    await peer.ws.close(code=CLOSE_ENDED if ended else CLOSE_AUTH, message=b"not valid now")
    return False


async def _window_over(db: Any, peer: _Peer, now: Any) -> bool:
    from telepresence.sessions.models import LessonSession

    session = await db.get(LessonSession, peer.session_id)
    return session is not None and session.closes_at <= now


async def _handle(request: web.Request, peer: _Peer, data: str) -> bool:
    """Handle one frame; False when the socket should close."""
    count = request.app[METRICS].signalling
    if len(data) > MAX_FRAME_BYTES:
        count("unparsed", "too_large")
        await peer.ws.send_json(_error("too_large", f"Frames are limited to {MAX_FRAME_BYTES}."))
        return True
    if not peer.take():
        count("unparsed", "rate_limited")
        await peer.ws.send_json(_error("rate_limited", "Too many messages; slow down."))
        return True
    try:
        message = parse_client_message(data)
    except ValidationError as exc:
        errors = validation_errors(exc)
        code = (
            "unknown_type"
            if any(e["type"] == "union_tag_invalid" for e in errors)
            else "invalid_message"
        )
        count("unparsed", code)
        await peer.ws.send_json(_error(code, "The message is not valid.", errors=errors))
        return True
    handler = _HANDLERS.get(type(message))
    if handler is None:
        count(message.type, "duplicate_join")
        await peer.ws.send_json(_error("duplicate_join", "Already joined.", message.id))
        return True
    peer.refused = False
    keep_open: bool = await handler(request, peer, message)
    count(message.type, "refused" if peer.refused else "ok")
    if keep_open and not peer.refused and message.id is not None and not peer.ws.closed:
        await peer.ws.send_json({"type": "ack", "id": message.id})
    return keep_open


async def _refuse(peer: _Peer, code: str, detail: str, ref: str | None = None) -> None:
    """Refuse the message being handled: an ``error`` naming it, and no ``ack``."""
    peer.refused = True
    await peer.ws.send_json(_error(code, detail, ref))


def _forward(request: web.Request, peer: _Peer, payload: dict[str, Any]) -> None:
    request.app[EVENTS].publish(topic(peer.session_id, peer.participant.peer), payload)


async def _on_offer(request: web.Request, peer: _Peer, msg: OfferMessage) -> bool:
    if peer.participant is not Participant.PUPIL:
        await _refuse(peer, "wrong_end", "Only the pupil's end makes offers.", msg.id)
        return True
    if not peer.pupil_camera and sends_video(msg.sdp):
        # Refused, not forwarded: the robot never sees an offer it must not accept.
        detail = "The pupil's camera is not allowed in this lesson: offer video as recvonly."
        await _refuse(peer, "camera_not_allowed", detail, msg.id)
        return True
    peer.candidates = 0
    _forward(request, peer, {"type": "offer", "sdp": msg.sdp})
    return True


async def _on_answer(request: web.Request, peer: _Peer, msg: AnswerMessage) -> bool:
    if peer.participant is not Participant.ROBOT:
        await _refuse(peer, "wrong_end", "Only the robot answers.", msg.id)
        return True
    peer.candidates = 0
    _forward(request, peer, {"type": "answer", "sdp": msg.sdp})
    return True


async def _on_candidate(request: web.Request, peer: _Peer, msg: CandidateMessage) -> bool:
    peer.candidates += 1
    if peer.candidates > CANDIDATES_PER_OFFER:
        await _refuse(peer, "too_many_candidates", "Too many candidates for one offer.", msg.id)
        return True
    _forward(
        request,
        peer,
        {
            "type": "candidate",
            "candidate": msg.candidate,
            "sdpMid": msg.sdpMid,
            "sdpMLineIndex": msg.sdpMLineIndex,
        },
    )
    return True


async def _on_quality(request: web.Request, peer: _Peer, msg: QualityMessage) -> bool:
    now = time.monotonic()
    if now - peer.last_quality < QUALITY_EVERY_S:
        await _refuse(peer, "rate_limited", "One quality sample every 2 s.", msg.id)
        return True
    peer.last_quality = now
    data = msg.model_dump(exclude={"type", "id"}, exclude_none=True)
    await _record(request, peer, EventKind.QUALITY, data)
    return True


async def _on_event(request: web.Request, peer: _Peer, msg: EventMessage) -> bool:
    if msg.kind == "control" and peer.participant is not Participant.ROBOT:
        await _refuse(peer, "wrong_end", "The robot reports the controls it applied.", msg.id)
        return True
    if msg.kind == "camera":
        if not peer.pupil_camera:
            await _refuse(peer, "camera_not_allowed", "There is no camera in this lesson.", msg.id)
            return True
        if not isinstance(msg.detail.get("on"), bool):
            await _refuse(
                peer, "invalid_message", 'A camera event says {"on": true|false}.', msg.id
            )
            return True
        await _record(request, peer, EventKind.CAMERA, {"on": msg.detail["on"]})
        return True
    kind = EventKind.CONTROL if msg.kind == "control" else EventKind.MEDIA_STARTED
    await _record(
        request,
        peer,
        kind,
        {"control": msg.control, **msg.detail} if msg.control else dict(msg.detail),
    )
    return True


async def _on_leave(request: web.Request, peer: _Peer, msg: LeaveMessage) -> bool:
    if msg.id is not None:
        await peer.ws.send_json({"type": "ack", "id": msg.id})
    await peer.ws.close(code=1000, message=b"left")
    return False


async def _on_end(request: web.Request, peer: _Peer, msg: EndMessage) -> bool:
    if peer.participant is not Participant.PUPIL:
        await _refuse(peer, "wrong_end", "Only the pupil's end ends the lesson.", msg.id)
        return True
    async with request.app[DATABASE].transaction() as db:
        await services.end_session(db, peer.session_id, "ended by pupil", request.app[CLOCK].now())
    if msg.id is not None:
        await peer.ws.send_json({"type": "ack", "id": msg.id})
    request.app[EVENTS].publish(
        topic(peer.session_id, "all"), {"type": "ended", "reason": "ended by pupil"}
    )
    return True


async def _record(request: web.Request, peer: _Peer, kind: EventKind, data: dict[str, Any]) -> None:
    async with request.app[DATABASE].transaction() as db:
        await services.record_event(
            db, peer.session_id, peer.participant, kind, data, request.app[CLOCK].now()
        )


_HANDLERS: dict[type, Any] = {
    OfferMessage: _on_offer,
    AnswerMessage: _on_answer,
    CandidateMessage: _on_candidate,
    QualityMessage: _on_quality,
    EventMessage: _on_event,
    LeaveMessage: _on_leave,
    EndMessage: _on_end,
}
