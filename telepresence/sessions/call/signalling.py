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
from typing import Any

import structlog
from aiohttp import WSMsgType, web
from pydantic import ValidationError

from telepresence.platform.errors import validation_errors
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS
from telepresence.platform.http.context import SETTINGS as SETTINGS_KEY
from telepresence.platform.operations.metrics import METRICS
from telepresence.sessions import services
from telepresence.sessions.call.exchange import HANDLERS, Peer, error, peer_present, topic
from telepresence.sessions.call.protocol import MAX_FRAME_BYTES, JoinMessage, parse_client_message
from telepresence.sessions.domain import EventKind, Participant, ice_servers

__all__ = ["CLOSE_ENDED", "SESSION_ROOMS", "SessionRooms", "serve_session_socket", "topic"]

log = structlog.get_logger("classbridge.sessions")
CLOSE_PROTOCOL = 4400
CLOSE_AUTH = 4401
CLOSE_JOIN_TIMEOUT = 4408
CLOSE_REPLACED = 4409
CLOSE_ENDED = 4410
JOIN_TIMEOUT_S = 10.0
RECHECK_S = 5.0
# Frames past MAX_FRAME_BYTES are refused (too_large); past this aiohttp closes with 1009.
HARD_LIMIT_BYTES = 4 * MAX_FRAME_BYTES
# Ping periods once the join says who is connected: a dead end is noticed within 1.5 times
# its period (aiohttp waits half a period for the pong). The robot matters most: while the
# server thinks it is there, the pupil waits for it.
ROBOT_PING_S = 5.0
PUPIL_PING_S = 10.0


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
            error(
                "invalid_message",
                "The first message must be a join.",
                errors=validation_errors(exc),
            )
        )
        await ws.close(code=CLOSE_PROTOCOL, message=b"join expected")
        return None
    if not isinstance(first, JoinMessage):
        await ws.send_json(error("join_first", "Join before anything else.", first.id))
        await ws.close(code=CLOSE_PROTOCOL, message=b"join expected")
        return None
    if 1 not in first.protocol:
        await ws.send_json(error("invalid_message", "Supported protocol versions: [1]."))
        await ws.close(code=4426, message=b"no common protocol version")
        return None
    return first


async def serve_session_socket(request: web.Request, _endpoint: Any) -> web.StreamResponse:
    """Authenticate by the first message (browsers cannot set headers), then relay."""
    ws = web.WebSocketResponse(heartbeat=PUPIL_PING_S, max_msg_size=HARD_LIMIT_BYTES)
    await ws.prepare(request)
    join = await _await_join(ws)
    if join is None:
        return ws
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as db:
        holder = await services.resolve_session_token(db, join.token, now)
        if holder is not None:
            kind = EventKind.RECONNECTED if holder.joined_before else EventKind.JOINED
            await services.record_event(db, holder.session.id, holder.participant, kind, {}, now)
    request.app[METRICS].signalling("join", "ok" if holder is not None else "unauthorised")
    if holder is None:
        await ws.send_json(error("unauthorised", "This session token is not valid now.", join.id))
        await ws.close(code=CLOSE_AUTH, message=b"invalid session token")
        return ws
    peer = Peer(
        ws=ws,
        session_id=holder.session.id,
        participant=holder.participant,
        token_id=holder.token_id,
        pupil_camera=holder.pupil_camera,
    )
    _ping_every(ws, ROBOT_PING_S if peer.participant is Participant.ROBOT else PUPIL_PING_S)
    try:
        await _run_peer(request, peer, holder, join)
    except ConnectionResetError as exc:
        # The other side went away while we wrote to it: expected, one quiet line.
        log.info("session_socket_lost", end=peer.participant.value, error=str(exc))
    return ws


def _ping_every(ws: web.WebSocketResponse, seconds: float) -> None:
    """Set the socket's ping period now that the join said which end it is.

    aiohttp takes the period when the response is made, before the first message
    names the end; these are its private fields (aiohttp is pinned in constraints.txt,
    and tests/integration/test_session_limits.py times both periods).
    """
    ws._heartbeat = seconds
    ws._pong_heartbeat = seconds / 2.0
    if ws._heartbeat_cb is not None:  # the ping planned for the old period would come late
        ws._heartbeat_cb.cancel()
        ws._heartbeat_cb = None
    ws._reset_heartbeat()


async def _run_peer(
    request: web.Request, peer: Peer, holder: services.TokenHolder, join: JoinMessage
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
                    "peer_present": await peer_present(app, session.id, peer.participant.peer),
                    "pupil_camera": peer.pupil_camera,
                }
            )
            events.publish(
                topic(session.id, peer.participant.peer),
                {"type": "peer_joined", "participant": peer.participant.value},
            )
            writer = asyncio.create_task(_write(app, peer, inbox))
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
    from telepresence.sessions.watching.watch import watcher_names

    async with app[DATABASE].sessions() as db:
        names = await watcher_names(db, session_id)
    if names:
        inbox.put_nowait({"type": "watching", "watchers": names})


async def _write(app: web.Application, peer: Peer, inbox: asyncio.Queue[dict[str, Any]]) -> None:
    while not peer.ws.closed:
        delivery = peer.negotiation.deliver(await inbox.get())
        if delivery.bounce is not None:  # a crossing offer dropped: its sender is told
            app[EVENTS].publish(topic(peer.session_id, peer.participant.peer), delivery.bounce)
        message = delivery.send
        if message is None:
            continue
        try:
            await peer.ws.send_json(message)
        except ConnectionResetError:
            return  # the socket is closing; the reader sees it and the end is recorded as left
        if message.get("type") == "ended":
            await peer.ws.close(code=CLOSE_ENDED, message=b"session ended")
            return


async def _read(request: web.Request, peer: Peer) -> None:
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
            await peer.ws.send_json(error("invalid_message", "Send JSON text frames."))
            continue
        if not await _handle(request, peer, msg.data):
            return


async def _still_valid(request: web.Request, peer: Peer) -> bool:
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


async def _window_over(db: Any, peer: Peer, now: Any) -> bool:
    from telepresence.sessions.models import LessonSession

    session = await db.get(LessonSession, peer.session_id)
    return session is not None and session.closes_at <= now


async def _handle(request: web.Request, peer: Peer, data: str) -> bool:
    """Handle one frame; False when the socket should close."""
    count = request.app[METRICS].signalling
    if len(data) > MAX_FRAME_BYTES:
        count("unparsed", "too_large")
        await peer.ws.send_json(error("too_large", f"Frames are limited to {MAX_FRAME_BYTES}."))
        return True
    if not peer.take():
        count("unparsed", "rate_limited")
        await peer.ws.send_json(error("rate_limited", "Too many messages; slow down."))
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
        await peer.ws.send_json(error(code, "The message is not valid.", errors=errors))
        return True
    handler = HANDLERS.get(type(message))
    if handler is None:
        count(message.type, "duplicate_join")
        await peer.ws.send_json(error("duplicate_join", "Already joined.", message.id))
        return True
    peer.refused = peer.answered = False
    keep_open: bool = await handler(request, peer, message)
    count(message.type, "refused" if peer.refused else "ok")
    if keep_open and not peer.answered and message.id is not None and not peer.ws.closed:
        await peer.ws.send_json({"type": "ack", "id": message.id})
    return keep_open
