"""Tables of reintegration: plans and their history, reviews, contacts, actions, visits, notes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from telepresence.platform.database import Base, new_id

__all__ = [
    "ActionRow",
    "ContactRow",
    "FactorRow",
    "Invitation",
    "NoteRow",
    "PlanEvent",
    "PlanRow",
    "ProviderRules",
    "RatingRow",
    "ReviewRow",
    "SchoolContactLink",
    "VisitFeed",
    "VisitRow",
]


class PlanRow(Base):
    """One pupil placement's way back to school, owned by the key worker."""

    __tablename__ = "reintegration_plans"
    __table_args__ = (Index("ix_reintegration_plans_pupil", "pupil_id", "phase"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), index=True)
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"))
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    key_worker_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    goal: Mapped[str] = mapped_column(String(20))
    goal_detail: Mapped[str] = mapped_column(String(300), default="")
    starts_on: Mapped[date]
    expected_weeks: Mapped[int] = mapped_column(Integer)
    review_dates: Mapped[list[str]] = mapped_column(JSON, default=list)
    phase: Mapped[str] = mapped_column(String(20), default="remote_only")
    school_weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)
    school_lessons: Mapped[list[str]] = mapped_column(JSON, default=list)
    outcome: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class PlanEvent(Base):
    """The plan's history: every change, with who and when (and alerts raised)."""

    __tablename__ = "reintegration_events"
    __table_args__ = (Index("ix_reintegration_events_plan_at", "plan_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("reintegration_plans.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(String(32))
    actor_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    summary: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    shared: Mapped[bool] = mapped_column(default=False)


class ProviderRules(Base):
    """A provider's reintegration settings (defaults apply without a row)."""

    __tablename__ = "reintegration_rules"

    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), primary_key=True)
    no_contact_days: Mapped[int] = mapped_column(Integer, default=21)
    review_remind_days: Mapped[int] = mapped_column(Integer, default=3)


class FactorRow(Base):
    """A readiness factor of a provider: group (child, parent_carer, systemic) and label."""

    __tablename__ = "reintegration_factors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), index=True)
    group: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    retired: Mapped[bool] = mapped_column(default=False)


class ReviewRow(Base):
    """A review of the plan: when it was held, who recorded it and what was decided."""

    __tablename__ = "reintegration_reviews"
    __table_args__ = (Index("ix_reintegration_reviews_plan", "plan_id", "held_on"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    plan_id: Mapped[str] = mapped_column(ForeignKey("reintegration_plans.id", ondelete="CASCADE"))
    held_on: Mapped[date]
    decisions: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime]


class RatingRow(Base):
    """One readiness factor's rating and note at one review."""

    __tablename__ = "reintegration_ratings"
    __table_args__ = (UniqueConstraint("review_id", "factor_id", name="uq_rating_factor"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    review_id: Mapped[str] = mapped_column(
        ForeignKey("reintegration_reviews.id", ondelete="CASCADE")
    )
    factor_id: Mapped[str] = mapped_column(ForeignKey("reintegration_factors.id"))
    rating: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")


class ContactRow(Base):
    """A contact with the home school or the parents/carers."""

    __tablename__ = "reintegration_contacts"
    __table_args__ = (Index("ix_reintegration_contacts_plan", "plan_id", "happened_on"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    plan_id: Mapped[str] = mapped_column(ForeignKey("reintegration_plans.id", ondelete="CASCADE"))
    happened_on: Mapped[date]
    party: Mapped[str] = mapped_column(String(20))
    people: Mapped[str] = mapped_column(String(300))
    channel: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text, default="")
    shared: Mapped[bool] = mapped_column(default=False)
    recorded_by: Mapped[str] = mapped_column(String(32))
    recorded_role: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime]


class ActionRow(Base):
    """An action agreed at a contact: open until the person it was assigned to ticks it."""

    __tablename__ = "reintegration_actions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    plan_id: Mapped[str] = mapped_column(
        ForeignKey("reintegration_plans.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[str] = mapped_column(
        ForeignKey("reintegration_contacts.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(String(500))
    assignee: Mapped[str] = mapped_column(String(20))
    due_on: Mapped[date | None]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(32))


class VisitRow(Base):
    """An after-care visit by the key worker to the pupil in school."""

    __tablename__ = "reintegration_visits"
    __table_args__ = (Index("ix_reintegration_visits_plan", "plan_id", "starts_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    plan_id: Mapped[str] = mapped_column(ForeignKey("reintegration_plans.id", ondelete="CASCADE"))
    key_worker_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="planned")
    notes: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, default=0)


class NoteRow(Base):
    """A note on the plan: internal to the hospital school, or shared with the home school."""

    __tablename__ = "reintegration_notes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    plan_id: Mapped[str] = mapped_column(
        ForeignKey("reintegration_plans.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    author_id: Mapped[str] = mapped_column(String(32))
    author_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    shared: Mapped[bool] = mapped_column(default=False)


class SchoolContactLink(Base):
    """A school contact invited for one pupil: they see that pupil while on roll."""

    __tablename__ = "reintegration_school_contacts"
    __table_args__ = (UniqueConstraint("user_id", "pupil_id", name="uq_school_contact_pupil"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    invited_by: Mapped[str] = mapped_column(String(32))
    invited_at: Mapped[datetime]


class Invitation(Base):
    """A one-time link to set a school contact's password (stored as a digest)."""

    __tablename__ = "reintegration_invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class VisitFeed(Base):
    """A key worker's private calendar address for their visits (stored as a digest)."""

    __tablename__ = "reintegration_visit_feeds"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
