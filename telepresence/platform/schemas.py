"""Request and response models of the kernel's API (sign-in, tokens, health)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from telepresence.platform.http.routing import Schema
from telepresence.platform.security.identity import Role

__all__ = [
    "AuditEntryOut",
    "AuditQuery",
    "HealthOut",
    "LoginIn",
    "MeOut",
    "PupilLoginIn",
    "TokenOut",
]


class LoginIn(Schema):
    """Email and password of a member of staff or an assistant."""

    email: EmailStr
    password: str = Field(min_length=1, max_length=200)


class PupilLoginIn(Schema):
    """A pupil's short code and PIN, as set by staff."""

    pupil_code: str = Field(min_length=4, max_length=16)
    pin: str = Field(min_length=4, max_length=12, pattern=r"^\d+$")


class TokenOut(BaseModel):
    """A bearer token, shown once; send it as ``Authorization: Bearer <token>``."""

    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)
    role: Role
    expires_at: datetime


class MeOut(BaseModel):
    """Who the caller is."""

    id: str
    role: Role
    display_name: str
    provider_id: str | None
    school_id: str | None


class ComponentHealth(BaseModel):
    """State of one part of the service."""

    status: str
    detail: str = ""
    latency_ms: float | None = None


class SchedulerHealth(BaseModel):
    """State of the timed-jobs scheduler of this instance."""

    status: str
    leader: bool = False
    jobs: list[dict[str, str | None]]


class HealthOut(BaseModel):
    """``ok`` when the database answers; ``degraded`` otherwise.

    The other fields are there only for an operator (the metrics token or an
    administrator's session); an anonymous caller gets ``status`` alone.
    """

    status: Literal["ok", "degraded"]
    version: str | None = None
    database: ComponentHealth | None = None
    scheduler: SchedulerHealth | None = None
    smtp: Literal["configured", "not configured"] | None = None


class AuditQuery(Schema):
    """Filters of the audit log."""

    subject_type: str | None = Field(default=None, max_length=30)
    subject_id: str | None = Field(default=None, max_length=64)
    actor_id: str | None = Field(default=None, max_length=32)
    limit: int = Field(default=100, ge=1, le=1000)


class AuditEntryOut(BaseModel):
    """Who did what to which record, when, in which request."""

    at: datetime
    actor_role: str
    actor_id: str
    action: str
    subject_type: str
    subject_id: str
    request_id: str
    details: dict[str, object]
