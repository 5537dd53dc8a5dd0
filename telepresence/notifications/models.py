"""The notifications table: one row per notice, unique by its idempotency key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from telepresence.platform.database import Base, new_id

__all__ = ["Notification"]


class Notification(Base):
    """A notice to one person, in the app (``user_id``) and/or by email, and what became of it."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_email_next_at", "email_next_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    email_status: Mapped[str] = mapped_column(String(20))
    email_attempts: Mapped[int] = mapped_column(default=0)
    email_error: Mapped[str | None] = mapped_column(String(300))
    emailed_at: Mapped[datetime | None]
    email_next_at: Mapped[datetime | None]
    """When the email's next try is due (the queue); None: nothing more to send."""
