"""Messages of the session socket ``/ws/session``, protocol version 1 (docs/protocol.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

__all__ = [
    "MAX_SDP_BYTES",
    "AnswerMessage",
    "CandidateMessage",
    "ClientMessage",
    "EndMessage",
    "EventMessage",
    "JoinMessage",
    "LeaveMessage",
    "OfferMessage",
    "QualityMessage",
    "RelayInvite",
    "RelayStop",
    "SessionClosed",
    "SessionInvite",
    "check_sdp",
    "parse_client_message",
    "schema_markdown",
]

MAX_SDP_BYTES = 16_000
MAX_FRAME_BYTES = 20_000
MESSAGES_PER_SECOND = 20
CANDIDATES_PER_OFFER = 60
SDP_LINE = r"^[a-z]=.*$"
CONTROLS = ("raise_hand", "lower_hand", "listening_mode", "head", "volume")


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, max_length=40, description="Echoed in the ack.")


def check_sdp(sdp: str) -> str:
    """``sdp`` if it looks like SDP (``v=0``, ``<letter>=`` lines, an ``m=``); else ValueError."""
    lines = sdp.replace("\r\n", "\n").strip().split("\n")
    if not lines or lines[0] != "v=0":
        raise ValueError("an SDP starts with v=0")
    if not any(line.startswith("m=") for line in lines):
        raise ValueError("an SDP has at least one m= section")
    for line in lines:
        if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
            raise ValueError("every SDP line is <letter>=<value>")
    return sdp


class JoinMessage(_Message):
    """First message: the session token from ``POST /api/bookings/{id}/join`` or the invite."""

    type: Literal["join"]
    token: str = Field(min_length=20, max_length=200)
    protocol: list[int] = Field(default=[1], min_length=1, max_length=8)


def _offer_id() -> Any:
    return Field(
        default=None,
        max_length=40,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Names the offer: chosen by the offerer (the server gives one if absent); "
        "the answer echoes it.",
    )


class OfferMessage(_Message):
    """An offer with a fresh peer connection: the pupil's on every (re)join, either end's later."""

    type: Literal["offer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP_BYTES)
    offer_id: str | None = _offer_id()

    _valid = field_validator("sdp")(check_sdp)


class AnswerMessage(_Message):
    """The answer to the offer named by ``offer_id`` (the other end's latest)."""

    type: Literal["answer"]
    sdp: str = Field(min_length=10, max_length=MAX_SDP_BYTES)
    offer_id: str | None = _offer_id()

    _valid = field_validator("sdp")(check_sdp)


class CandidateMessage(_Message):
    """A trickled ICE candidate (empty ``candidate`` = end of candidates)."""

    type: Literal["candidate"]
    candidate: str = Field(max_length=600, pattern=r"^(candidate:.*)?$")
    sdpMid: str | None = Field(default=None, max_length=32)  # noqa: N815 (the WebRTC name)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=16)  # noqa: N815


class QualityMessage(_Message):
    """A summary of the sender's WebRTC statistics (every few seconds)."""

    type: Literal["quality"]
    rtt_ms: float | None = Field(default=None, ge=0, le=60_000)
    loss_pct: float | None = Field(default=None, ge=0, le=100)
    jitter_ms: float | None = Field(default=None, ge=0, le=60_000)
    fps: float | None = Field(default=None, ge=0, le=240)
    bitrate_kbps: float | None = Field(default=None, ge=0, le=100_000)


class EventMessage(_Message):
    """Something that happened at an end: a control applied, media started, the pupil's camera.

    ``camera`` (pupil only, with the camera grant) carries ``detail: {"on": true|false}``.
    """

    type: Literal["event"]
    kind: Literal["control", "media_started", "camera"]
    control: Literal[CONTROLS] | None = None  # type: ignore[valid-type]
    detail: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=8)


class LeaveMessage(_Message):
    """This end leaves; the session stays open for a rejoin."""

    type: Literal["leave"]


class EndMessage(_Message):
    """The pupil (or staff) ends the session for both."""

    type: Literal["end"]


ClientMessage = Annotated[
    JoinMessage
    | OfferMessage
    | AnswerMessage
    | CandidateMessage
    | QualityMessage
    | EventMessage
    | LeaveMessage
    | EndMessage,
    Field(discriminator="type"),
]
_adapter: TypeAdapter[Any] = TypeAdapter(ClientMessage)


def parse_client_message(raw: str) -> Any:
    """Validate one text frame; raises ``pydantic.ValidationError``."""
    return _adapter.validate_json(raw)


def schema_markdown() -> str:
    """The JSON schema of every client message as Markdown, for docs/protocol.md."""
    parts = []
    for model in (
        JoinMessage,
        OfferMessage,
        AnswerMessage,
        CandidateMessage,
        QualityMessage,
        EventMessage,
        LeaveMessage,
        EndMessage,
        SessionInvite,
        SessionClosed,
        RelayInvite,
        RelayStop,
    ):
        schema = json.dumps(model.model_json_schema(), indent=2, sort_keys=True, ensure_ascii=False)
        parts.append(f"#### `{model.__name__}`\n\n```json\n{schema}\n```\n")
    return "\n".join(parts)


class SessionInvite(BaseModel):
    """Server → robot over the device socket: join this session with this token."""

    type: Literal["session_invite"] = "session_invite"
    session_id: str
    token: str
    closes_at: str
    subject: str
    websocket_path: str = "/ws/session"


class SessionClosed(BaseModel):
    """Server → robot over the device socket: the session ended; leave it."""

    type: Literal["session_end"] = "session_end"
    session_id: str
    reason: str


class RelayInvite(BaseModel):
    """Server → robot over the device socket: also send this session's media to the server's relay.

    The robot offers (video and audio, sendonly) in ``POST {offer_path}`` with
    its device credential, body ``{"sdp": "…"}``, and sets the answer it gets
    back. The relay forwards VP8 video and Opus audio only.
    """

    type: Literal["relay_invite"] = "relay_invite"
    session_id: str
    offer_path: str
    ice_servers: list[dict[str, Any]] = Field(default_factory=list)


class RelayStop(BaseModel):
    """Server → robot over the device socket: nobody watches through the relay any more."""

    type: Literal["relay_stop"] = "relay_stop"
    session_id: str


if __name__ == "__main__":
    print(schema_markdown())
