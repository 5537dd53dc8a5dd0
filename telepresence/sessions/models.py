"""Tables of live sessions: the session of a booking, its participants' tokens, its timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from telepresence.platform.database import Base, new_id
from telepresence.sessions.joining.readiness_models import ReadinessCheck

# ReadinessCheck lives in its own module; imported here so that every table of
# the sessions package is registered wherever its models are.

__all__ = ["LessonSession", "ReadinessCheck", "SessionEvent", "SessionToken"]


class LessonSession(Base):
    """One live audio/video session of a booking. No media is ever stored."""

    __tablename__ = "lesson_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    booking_id: Mapped[str] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), unique=True
    )
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    robot_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    mode: Mapped[str] = mapped_column(String(8), default="direct")
    status: Mapped[str] = mapped_column(String(8), default="open")
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(40))


class SessionToken(Base):
    """A participant's token for one session: hashed, bounded by the window, revocable."""

    __tablename__ = "session_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("lesson_sessions.id", ondelete="CASCADE"), index=True
    )
    participant: Mapped[str] = mapped_column(String(8))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # Whether this end may send the pupil's camera: decided when the token is issued
    # (the school allows it and the pupil consented), so a change applies from the next join.
    pupil_camera: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SessionEvent(Base):
    """One entry of a session's timeline (joins, gaps, controls, quality samples)."""

    __tablename__ = "session_events"
    __table_args__ = (Index("ix_session_events_session_at", "session_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("lesson_sessions.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    participant: Mapped[str | None] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
