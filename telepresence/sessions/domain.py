"""Rules of live sessions: the join window, ICE servers, and what a signalling message may be.

Plain Python; time is a parameter.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "EventKind",
    "Participant",
    "SessionWindow",
    "TurnSettings",
    "ice_servers",
    "sends_video",
    "turn_credential",
    "window_for",
]


class Participant(enum.StrEnum):
    """The two ends of a session."""

    PUPIL = "pupil"
    ROBOT = "robot"

    @property
    def peer(self) -> Participant:
        """The other end."""
        return Participant.ROBOT if self is Participant.PUPIL else Participant.PUPIL


class EventKind(enum.StrEnum):
    """What a session's timeline records."""

    OPENED = "opened"
    JOINED = "joined"
    INVITED = "invited"  # the robot was sent a session token ({"why": ...})
    LEFT = "left"
    RECONNECTED = "reconnected"
    MEDIA_STARTED = "media_started"
    CONTROL = "control"
    QUALITY = "quality"
    CAMERA = "camera"  # the pupil turned their camera on or off ({"on": bool})
    WATCHING = "watching"  # hospital staff started watching through the relay
    STOPPED_WATCHING = "stopped_watching"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """When a booking's session may exist: from ``opens`` to ``closes`` (UTC)."""

    opens: datetime
    closes: datetime

    def contains(self, now: datetime) -> bool:
        """Whether ``now`` is inside the window."""
        return self.opens <= now < self.closes

    def explain(self, now: datetime) -> str:
        """Why ``now`` is not inside, in words for a pupil or teacher."""
        if now < self.opens:
            minutes = int((self.opens - now).total_seconds() // 60) + 1
            return f"This lesson opens for joining in {minutes} minute(s)."
        return "This lesson has finished."


def window_for(
    starts_at: datetime, ends_at: datetime, *, join_before: timedelta, grace: timedelta
) -> SessionWindow:
    """The session window of a booking: a few minutes early, until the end plus a grace."""
    if ends_at <= starts_at:
        raise ValueError("a lesson ends after it starts")
    return SessionWindow(opens=starts_at - join_before, closes=ends_at + grace)


DIRECTIONS = frozenset({"sendrecv", "sendonly", "recvonly", "inactive"})


def sends_video(sdp: str) -> bool:
    """Whether an SDP offers to *send* video: any ``m=video`` section that is
    ``sendrecv`` or ``sendonly``.

    A section without a direction attribute takes the session-level one, and
    without that it is ``sendrecv`` (RFC 8866 §6.7). A port of 0 does not count
    as "not sending": with ``a=bundle-only`` such a section is live (RFC 8843).
    The input is SDP that passed ``check_sdp``.
    """
    session_direction = "sendrecv"
    sections: list[tuple[str, str | None]] = []  # (media kind, its own direction)
    for raw in sdp.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if line.startswith("m="):
            sections.append((line[2:].split(" ", 1)[0], None))
        elif line.startswith("a=") and line[2:] in DIRECTIONS:
            if sections:
                sections[-1] = (sections[-1][0], line[2:])
            else:
                session_direction = line[2:]
    return any(
        kind == "video" and (direction or session_direction) in {"sendrecv", "sendonly"}
        for kind, direction in sections
    )


@dataclass(frozen=True, slots=True)
class TurnSettings:
    """STUN and TURN servers as the operator configured them (none on a LAN)."""

    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None


def turn_credential(secret: str, session_id: str, expires: datetime) -> tuple[str, str]:
    """TURN REST credentials (coturn ``use-auth-secret``): ``(username, credential)``.

    ``username = "<unix expiry>:<session id>"`` and
    ``credential = base64(HMAC-SHA1(secret, username))``.
    """
    username = f"{int(expires.timestamp())}:{session_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(turn: TurnSettings, session_id: str, expires: datetime) -> list[dict[str, object]]:
    """The ICE servers one session's participants get, in the WebRTC ``RTCIceServer`` shape.

    Empty unless configured: never a public STUN server the operator did not choose.
    """
    servers: list[dict[str, object]] = []
    if turn.stun_urls:
        servers.append({"urls": list(turn.stun_urls)})
    if turn.turn_urls and turn.turn_secret:
        username, credential = turn_credential(turn.turn_secret, session_id, expires)
        servers.append(
            {"urls": list(turn.turn_urls), "username": username, "credential": credential}
        )
    return servers
