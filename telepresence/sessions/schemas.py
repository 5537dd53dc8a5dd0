"""HTTP models of live sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["JoinOut", "SessionEventOut", "SessionOut"]


class JoinOut(BaseModel):
    """What the pupil's tablet needs to join: the token is shown once."""

    session_id: str
    booking_id: str
    participant: str
    token: str
    websocket_path: str = "/ws/session"
    ice_servers: list[dict[str, Any]]
    closes_at: datetime
    subject: str
    pupil_camera: bool = Field(
        default=False,
        description="Whether this join may send the pupil's camera "
        "(the school allows it and the pupil consented).",
    )


class SessionOut(BaseModel):
    """A session's state."""

    id: str
    booking_id: str
    status: str
    mode: str
    opens_at: datetime
    closes_at: datetime
    ended_at: datetime | None
    end_reason: str | None


class SessionEventOut(BaseModel):
    """One entry of a session's timeline."""

    at: datetime
    participant: str | None
    kind: str
    data: dict[str, Any]
