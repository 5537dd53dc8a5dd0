"""Readiness checks: what a short test call from a classroom measured, per room and time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from telepresence.platform.database import Base, new_id

__all__ = ["ReadinessCheck"]


class ReadinessCheck(Base):
    """One test call from a device to the service's echo peer (no media is kept)."""

    __tablename__ = "readiness_checks"
    __table_args__ = (Index("ix_readiness_school_room_at", "school_id", "room", "started_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    school_id: Mapped[str | None] = mapped_column(ForeignKey("schools.id"))
    room: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    rtt_ms: Mapped[float | None] = mapped_column(Float)
    loss_pct: Mapped[float | None] = mapped_column(Float)
    bitrate_kbps: Mapped[float | None] = mapped_column(Float)
    fps: Mapped[float | None] = mapped_column(Float)
    verdict: Mapped[str | None] = mapped_column(String(8))
