"""Tables of the shared kernel: organisation, people, tokens and the audit log.

They live in the kernel because every feature package refers to them (a
device is assigned to a pupil and a school; a booking is a pupil's).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from telepresence.platform.database import Base, new_id

__all__ = ["AuditEntry", "AuthToken", "Provider", "Pupil", "Room", "School", "User"]


class Provider(Base):
    """A hospital school (medical alternative provision)."""

    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    # Coordinators read; they record consent and pin moves only when this is on.
    coordinators_may_change: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[datetime]


class School(Base):
    """A pupil's home (mainstream) school."""

    __tablename__ = "schools"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    contact_email: Mapped[str | None] = mapped_column(String(320))
    # Whether pupils of this school may send their camera to the classroom (when each
    # pupil has consented too); off by default: lessons are robot → pupil video only.
    allow_pupil_camera: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime]


class Room(Base):
    """A room of a school, where a robot can be."""

    __tablename__ = "rooms"
    __table_args__ = (Index("uq_rooms_school_name", "school_id", "name", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    building: Mapped[str] = mapped_column(String(100), default="")
    floor: Mapped[int] = mapped_column(default=0)


class User(Base):
    """A member of staff or a classroom assistant who signs in with email and password."""

    __tablename__ = "users"
    # An address is unique within a provider, not across the server: a server-wide
    # check would tell one provider's administrator which addresses another has.
    __table_args__ = (
        Index("uq_users_provider_email", "provider_id", "email", unique=True),
        Index("ix_users_email", "email"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    provider_id: Mapped[str | None] = mapped_column(ForeignKey("providers.id"), index=True)
    school_id: Mapped[str | None] = mapped_column(ForeignKey("schools.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Pupil(Base):
    """A pupil on a provider's roll, attached to one home school.

    Only what the service needs: names (assistants see first name and
    initial), the school, the key worker, consent flags and the tablet login.
    No medical detail is stored.
    """

    __tablename__ = "pupils"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    year_group: Mapped[str] = mapped_column(String(20), default="")
    key_worker_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    parent_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    class_informed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The pupil's (and parent/carer's) consent to their camera being seen in class.
    camera_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Who gave that consent (e.g. "Anna Kowalski, mother") and on which day, as staff recorded.
    camera_consent_by: Mapped[str | None] = mapped_column(String(200))
    camera_consent_on: Mapped[date | None]
    pupil_code: Mapped[str] = mapped_column(String(16), unique=True)
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class AuthToken(Base):
    """A login session or API token, stored as a digest; expires and can be revoked."""

    __tablename__ = "auth_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    pupil_id: Mapped[str | None] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Who read or changed what, when, within which request."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    # The acting provider: every read of the log is scoped to the caller's provider.
    provider_id: Mapped[str | None] = mapped_column(String(32), index=True)
    actor_role: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(60))
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(40), default="")
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")


DEFAULT_ZONE = "Europe/London"
"""The zone of a page or notice that has no school (yet) to read its clock from."""


def zone_of(school: School | None) -> ZoneInfo:
    """The school's IANA zone, or London when there is no school."""
    return ZoneInfo(school.time_zone if school else DEFAULT_ZONE)
