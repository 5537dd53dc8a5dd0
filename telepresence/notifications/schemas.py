"""The notifications API's request and response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from telepresence.platform.http.routing import Schema

__all__ = ["NotificationOut", "NotificationQuery"]


class NotificationQuery(Schema):
    """Filters of the signed-in user's notifications."""

    unread: bool = False
    limit: int = Field(default=50, ge=1, le=200)


class NotificationOut(BaseModel):
    """One in-app notification."""

    id: str
    kind: str
    subject: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None
