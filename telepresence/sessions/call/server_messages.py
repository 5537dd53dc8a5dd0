"""What the server sends on the session socket ``/ws/session``, as models.

The signalling code builds plain dicts (they cross instances as JSON through
the event bridge); these models are their contract: the JSON Schemas in
``docs/schemas/`` are generated from them and a test validates every message
the server sends against those schemas.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AckOut",
    "AnswerOut",
    "CandidateOut",
    "EndedOut",
    "ErrorOut",
    "JoinedOut",
    "OfferOut",
    "PeerJoinedOut",
    "PeerLeftOut",
    "ServerMessage",
    "WatchingOut",
]

SESSION_ERROR_CODES = (
    "invalid_message",
    "unknown_type",
    "too_large",
    "rate_limited",
    "too_many_candidates",
    "wrong_end",
    "join_first",
    "duplicate_join",
    "unauthorised",
    "camera_not_allowed",
    "peer_absent",
    "glare",
    "stale_answer",
)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JoinedOut(_Out):
    """Answer to ``join``: who you are in which session, and how to make the call."""

    type: Literal["joined"]
    id: str | None = Field(description="The join's id, if it had one.")
    protocol: Literal[1]
    session_id: str
    participant: Literal["pupil", "robot"]
    ice_servers: list[dict[str, Any]] = Field(description="Pass to RTCPeerConnection as they are.")
    closes_at: str = Field(description="When the session's window closes (ISO 8601, UTC).")
    peer_present: bool = Field(description="Whether the other end is in the session now.")
    pupil_camera: bool = Field(description="Whether this token may send the pupil's camera.")


class PeerJoinedOut(_Out):
    """The other end joined (or rejoined): the pupil offers now."""

    type: Literal["peer_joined"]
    participant: Literal["pupil", "robot"]


class PeerLeftOut(_Out):
    """The other end left or its connection was lost."""

    type: Literal["peer_left"]
    participant: Literal["pupil", "robot"]


class OfferOut(_Out):
    """The other end's offer, under its ``offer_id``: answer it with the same id."""

    type: Literal["offer"]
    sdp: str
    offer_id: str


class AnswerOut(_Out):
    """The other end's answer to your offer ``offer_id``."""

    type: Literal["answer"]
    sdp: str
    offer_id: str


class CandidateOut(_Out):
    """A trickled ICE candidate of the other end (empty = end of candidates)."""

    type: Literal["candidate"]
    candidate: str
    sdpMid: str | None  # noqa: N815 (the WebRTC name)
    sdpMLineIndex: int | None  # noqa: N815


class AckOut(_Out):
    """Your message with this ``id`` was done."""

    type: Literal["ack"]
    id: str


class ErrorOut(_Out):
    """Your message was refused and changed nothing (``id`` names it, if it had one)."""

    type: Literal["error"]
    code: Literal[SESSION_ERROR_CODES]  # type: ignore[valid-type]
    detail: str
    id: str | None = None
    errors: list[dict[str, str]] = Field(
        default_factory=list, description="For invalid_message: {field, message, type} each."
    )
    offer_id: str | None = Field(default=None, description="The refused offer's or answer's.")


class EndedOut(_Out):
    """The session is over for this end; the socket closes next (4410, or 4401)."""

    type: Literal["ended"]
    reason: str


class WatchingOut(_Out):
    """Who watches the lesson through the server's relay (empty: nobody any more)."""

    type: Literal["watching"]
    watchers: list[str]


ServerMessage = Annotated[
    JoinedOut
    | PeerJoinedOut
    | PeerLeftOut
    | OfferOut
    | AnswerOut
    | CandidateOut
    | AckOut
    | ErrorOut
    | EndedOut
    | WatchingOut,
    Field(discriminator="type"),
]
