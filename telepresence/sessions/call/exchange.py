"""What each message of the session socket does once an end has joined.

Offers and answers travel under an ``offer_id`` (``negotiation.py`` holds the
rule for stale answers and crossing offers); candidates, quality samples and
events are checked, forwarded or put on the session's timeline.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import select

from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS
from telepresence.sessions import services
from telepresence.sessions.call.negotiation import Negotiation
from telepresence.sessions.call.protocol import (
    CANDIDATES_PER_OFFER,
    MESSAGES_PER_SECOND,
    AnswerMessage,
    CandidateMessage,
    EndMessage,
    EventMessage,
    LeaveMessage,
    OfferMessage,
    QualityMessage,
)
from telepresence.sessions.domain import EventKind, Participant, sends_video
from telepresence.sessions.models import SessionEvent

__all__ = ["BURST", "HANDLERS", "Peer", "error", "peer_present", "topic"]

QUALITY_EVERY_S = 2.0
BURST = MESSAGES_PER_SECOND * 2  # the session socket's token bucket holds this many messages
PRESENT_KINDS = (EventKind.JOINED.value, EventKind.RECONNECTED.value)


def topic(session_id: str, to: Participant | str) -> str:
    """The event topic of messages for one end of a session (or ``all``)."""
    return f"session:{session_id}:{to}"


def error(code: str, detail: str, ref: str | None = None, **extra: Any) -> dict[str, Any]:
    """An ``error`` message; ``ref`` is the refused message's ``id``."""
    return {"type": "error", "code": code, "detail": detail, "id": ref, **extra}


@dataclass
class Peer:
    """One connected end, its budgets and its offers in flight."""

    ws: web.WebSocketResponse
    session_id: str
    participant: Participant
    token_id: str
    tokens: float = float(BURST)
    updated: float = field(default_factory=time.monotonic)
    candidates: int = 0
    last_quality: float = 0.0
    pupil_camera: bool = False  # the token's grant: may this end send video?
    refused: bool = False  # the message being handled was refused (an error, no ack)
    answered: bool = False  # ... or its handler answered it already (no second ack)
    negotiation: Negotiation = field(init=False)

    def __post_init__(self) -> None:
        self.negotiation = Negotiation(self.participant)

    def take(self) -> bool:
        """Spend one message of the budget: 20 a second on average, bursts of 40."""
        now = time.monotonic()
        self.tokens = min(float(BURST), self.tokens + (now - self.updated) * MESSAGES_PER_SECOND)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


async def peer_present(app: web.Application, session_id: str, other: Participant) -> bool:
    """Whether the other end is in the session now, on this instance or another.

    ``present_here`` (this instance's rooms) is asked first; otherwise the
    timeline's last join or leave of that end says it.
    """
    from telepresence.sessions.call.signalling import SESSION_ROOMS

    if app[SESSION_ROOMS].present(session_id, other):
        return True
    async with app[DATABASE].sessions() as db:
        last = await db.scalar(
            select(SessionEvent.kind)
            .where(
                SessionEvent.session_id == session_id,
                SessionEvent.participant == other.value,
                SessionEvent.kind.in_([*PRESENT_KINDS, EventKind.LEFT.value]),
            )
            .order_by(SessionEvent.id.desc())
            .limit(1)
        )
    return last in PRESENT_KINDS


async def refuse(peer: Peer, code: str, detail: str, ref: str | None = None, **extra: Any) -> None:
    """Refuse the message being handled: an ``error`` naming it, and no ``ack``."""
    peer.refused = peer.answered = True
    await peer.ws.send_json(error(code, detail, ref, **extra))


def forward(request: web.Request, peer: Peer, payload: dict[str, Any]) -> None:
    """Publish a message for the other end (on whichever instance holds it)."""
    request.app[EVENTS].publish(topic(peer.session_id, peer.participant.peer), payload)


async def _on_offer(request: web.Request, peer: Peer, msg: OfferMessage) -> bool:
    if (why := peer.negotiation.refuse_offer()) is not None:
        detail = "Answer the pupil's offer first: when offers cross, the pupil's wins."
        await refuse(peer, why, detail, msg.id, offer_id=msg.offer_id)
        return True
    if peer.participant is Participant.PUPIL and not peer.pupil_camera and sends_video(msg.sdp):
        # Refused, not forwarded: the robot never sees an offer it must not accept.
        detail = "The pupil's camera is not allowed in this lesson: offer video as recvonly."
        await refuse(peer, "camera_not_allowed", detail, msg.id, offer_id=msg.offer_id)
        return True
    if not await peer_present(request.app, peer.session_id, peer.participant.peer):
        detail = f"The {peer.participant.peer.value} is not in the session: offer on peer_joined."
        await refuse(peer, "peer_absent", detail, msg.id, offer_id=msg.offer_id)
        return True
    offer_id = peer.negotiation.offer_id(msg.offer_id)
    peer.negotiation.offered(offer_id)
    peer.candidates = 0
    forward(request, peer, {"type": "offer", "sdp": msg.sdp, "offer_id": offer_id})
    return True


async def _on_answer(request: web.Request, peer: Peer, msg: AnswerMessage) -> bool:
    if peer.participant is Participant.PUPIL and not peer.pupil_camera and sends_video(msg.sdp):
        detail = "The pupil's camera is not allowed in this lesson: answer video as recvonly."
        await refuse(peer, "camera_not_allowed", detail, msg.id, offer_id=msg.offer_id)
        return True
    offer_id = peer.negotiation.answer_for(msg.offer_id)
    if offer_id is None:
        detail = "This answers an offer that is no longer the latest one; it was dropped."
        await refuse(peer, "stale_answer", detail, msg.id, offer_id=msg.offer_id)
        return True
    peer.candidates = 0
    forward(request, peer, {"type": "answer", "sdp": msg.sdp, "offer_id": offer_id})
    return True


async def _on_candidate(request: web.Request, peer: Peer, msg: CandidateMessage) -> bool:
    peer.candidates += 1
    if peer.candidates > CANDIDATES_PER_OFFER:
        await refuse(peer, "too_many_candidates", "Too many candidates for one offer.", msg.id)
        return True
    forward(
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


async def _on_quality(request: web.Request, peer: Peer, msg: QualityMessage) -> bool:
    now = time.monotonic()
    if now - peer.last_quality < QUALITY_EVERY_S:
        await refuse(peer, "rate_limited", "One quality sample every 2 s.", msg.id)
        return True
    peer.last_quality = now
    data = msg.model_dump(exclude={"type", "id"}, exclude_none=True)
    await record(request, peer, EventKind.QUALITY, data)
    return True


async def _on_event(request: web.Request, peer: Peer, msg: EventMessage) -> bool:
    if msg.kind == "control" and peer.participant is not Participant.ROBOT:
        await refuse(peer, "wrong_end", "The robot reports the controls it applied.", msg.id)
        return True
    if msg.kind == "camera":
        if not peer.pupil_camera:
            await refuse(peer, "camera_not_allowed", "There is no camera in this lesson.", msg.id)
            return True
        if not isinstance(msg.detail.get("on"), bool):
            await refuse(peer, "invalid_message", 'A camera event says {"on": true|false}.', msg.id)
            return True
        await record(request, peer, EventKind.CAMERA, {"on": msg.detail["on"]})
        return True
    kind = EventKind.CONTROL if msg.kind == "control" else EventKind.MEDIA_STARTED
    await record(
        request,
        peer,
        kind,
        {"control": msg.control, **msg.detail} if msg.control else dict(msg.detail),
    )
    return True


async def _on_leave(request: web.Request, peer: Peer, msg: LeaveMessage) -> bool:
    peer.answered = True
    if msg.id is not None:
        await peer.ws.send_json({"type": "ack", "id": msg.id})
    await peer.ws.close(code=1000, message=b"left")
    return False


async def _on_end(request: web.Request, peer: Peer, msg: EndMessage) -> bool:
    if peer.participant is not Participant.PUPIL:
        await refuse(peer, "wrong_end", "Only the pupil's end ends the lesson.", msg.id)
        return True
    async with request.app[DATABASE].transaction() as db:
        await services.end_session(db, peer.session_id, "ended by pupil", request.app[CLOCK].now())
    # Acknowledged once, before ``ended`` (after which the socket closes with 4410).
    peer.answered = True
    if msg.id is not None:
        await peer.ws.send_json({"type": "ack", "id": msg.id})
    # The robot's agent hears it on its device socket too, as when staff end a lesson.
    await _tell_robot_it_ended(request.app, peer.session_id, "ended by pupil")
    request.app[EVENTS].publish(
        topic(peer.session_id, "all"), {"type": "ended", "reason": "ended by pupil"}
    )
    return True


async def _tell_robot_it_ended(app: web.Application, session_id: str, reason: str) -> None:
    from device_registry.socket import DEVICE_HUB
    from telepresence.sessions.call.protocol import SessionClosed
    from telepresence.sessions.models import LessonSession

    async with app[DATABASE].sessions() as db:
        session = await db.get(LessonSession, session_id)
    if session is not None:
        message = SessionClosed(session_id=session_id, reason=reason).model_dump()
        await app[DEVICE_HUB].send_anywhere(session.robot_id, message)


async def record(request: web.Request, peer: Peer, kind: EventKind, data: dict[str, Any]) -> None:
    """Put one entry on the session's timeline, as this end's."""
    async with request.app[DATABASE].transaction() as db:
        await services.record_event(
            db, peer.session_id, peer.participant, kind, data, request.app[CLOCK].now()
        )


Handler = Callable[[web.Request, Peer, Any], Awaitable[bool]]
HANDLERS: dict[type, Handler] = {
    OfferMessage: _on_offer,
    AnswerMessage: _on_answer,
    CandidateMessage: _on_candidate,
    QualityMessage: _on_quality,
    EventMessage: _on_event,
    LeaveMessage: _on_leave,
    EndMessage: _on_end,
}
