"""Tables of engagement: each booking's outcome, disengagement alerts, shared notes, daily runs.

An outcome row copies the few booking facts the figures group by (pupil,
school, device, subject, local date and its week), so that the engagement
figures are aggregate queries over one table, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from telepresence.platform.database import Base, new_id

__all__ = [
    "AlertRecipientRow",
    "AlertRow",
    "EngagementRunRow",
    "OutcomeRow",
    "SharedNoteRow",
    "SubjectWeekRow",
    "WeeklyRow",
]


ROLLUP_INCLUDES = ["lesson_date", "outcome", "present_seconds", "booked_seconds", "subject"]


class OutcomeRow(Base):
    """What one booked lesson gave the pupil, computed from its session's timeline."""

    __tablename__ = "engagement_outcomes"
    __table_args__ = (
        Index("ix_engagement_outcomes_pupil_date", "pupil_id", "lesson_date"),
        Index("ix_engagement_outcomes_school_date", "school_id", "lesson_date"),
        Index("ix_engagement_outcomes_device_date", "device_id", "lesson_date"),
        # The dashboard's one scan (figures.breakdown) groups a provider's outcomes by pupil,
        # week, school and device: in this order and with the summed columns included,
        # PostgreSQL reads the index alone, already grouped, instead of sorting the table.
        Index(
            "ix_engagement_outcomes_provider_rollup",
            "provider_id",
            "pupil_id",
            "week_monday",
            "school_id",
            "device_id",
            postgresql_include=ROLLUP_INCLUDES,
        ),
    )

    booking_id: Mapped[str] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True
    )
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"))
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    subject: Mapped[str] = mapped_column(String(200))
    lesson_date: Mapped[date]
    week_monday: Mapped[date]
    starts_at: Mapped[datetime]
    booked_seconds: Mapped[int] = mapped_column(Integer)
    present_seconds: Mapped[int] = mapped_column(Integer)
    first_join: Mapped[datetime | None]
    last_leave: Mapped[datetime | None]
    gaps: Mapped[int] = mapped_column(Integer)
    gap_seconds: Mapped[int] = mapped_column(Integer)
    reconnects: Mapped[int] = mapped_column(Integer)
    hands_raised: Mapped[int] = mapped_column(Integer)
    camera_seconds: Mapped[int] = mapped_column(Integer)
    quality: Mapped[str] = mapped_column(String(8))
    quality_samples: Mapped[int] = mapped_column(Integer)
    rtt_ms: Mapped[float | None] = mapped_column(Float)
    loss_pct: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(20))
    move_id: Mapped[str | None] = mapped_column(String(32))
    computed_at: Mapped[datetime]
    # What it was computed from (outcomes.source_of): the nightly recompute skips the same.
    source: Mapped[str | None] = mapped_column(String(200))


class _Sums:
    """The summed columns of a rollup of outcomes (``engagement.rollup``): what
    ``figures.Counts`` holds, and the first and last lesson date summed, so a reader knows
    whether a week's row lies wholly inside a date range."""

    booked: Mapped[int] = mapped_column(Integer)  # not cancelled
    joined: Mapped[int] = mapped_column(Integer)  # present at all
    attended: Mapped[int] = mapped_column(Integer)
    partial: Mapped[int] = mapped_column(Integer)
    missed: Mapped[int] = mapped_column(Integer)
    cancelled: Mapped[int] = mapped_column(Integer)
    present_seconds: Mapped[int] = mapped_column(Integer)
    booked_seconds: Mapped[int] = mapped_column(Integer)  # of the lessons not cancelled
    first_lesson: Mapped[date]
    last_lesson: Mapped[date]


class WeeklyRow(_Sums, Base):
    """A pupil's outcomes of one school week (per school and robot), summed: the dashboard
    reads these (about a sixth as many rows as outcomes) instead of the outcomes.

    Derived from ``engagement_outcomes`` only, in the same transaction as every write to it
    (``engagement.rollup``): recomputed after the outcome upsert, and by a trigger when
    outcomes are deleted (a booking or pupil deleted cascades to them). No foreign keys: it
    is rebuilt from the outcomes, which have them.
    """

    __tablename__ = "engagement_weekly"
    __table_args__ = (Index("ix_engagement_weekly_provider_week", "provider_id", "week_monday"),)

    pupil_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    week_monday: Mapped[date] = mapped_column(primary_key=True)
    school_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(32))
    last_present: Mapped[date | None]  # the last lesson date the pupil was present in


class SubjectWeekRow(_Sums, Base):
    """A school's outcomes of one week per subject, summed (the dashboard's subjects), kept
    as ``WeeklyRow`` is."""

    __tablename__ = "engagement_subject_weeks"
    __table_args__ = (
        Index("ix_engagement_subject_weeks_provider_week", "provider_id", "week_monday"),
    )

    school_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    week_monday: Mapped[date] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(32))


class AlertRow(Base):
    """A disengagement (or operational) alert about one pupil; one open per pupil, rule and
    ``subject_key``.

    ``subject_key`` is empty for the disengagement rules (one open per pupil and
    rule); an operational alert names what it is about: ``move:<id>``,
    ``device:<id>`` or ``day:<local date>`` (``telepresence.engagement.operational``).
    """

    __tablename__ = "engagement_alerts"
    __table_args__ = (
        Index(
            "uq_engagement_alerts_open",
            "pupil_id",
            "rule",
            "subject_key",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        Index("ix_engagement_alerts_provider_status", "provider_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"))
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"))
    rule: Mapped[str] = mapped_column(String(30))
    subject_key: Mapped[str] = mapped_column(String(80), default="", server_default="")
    status: Mapped[str] = mapped_column(String(12), default="open")
    summary: Mapped[str] = mapped_column(String(300))
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(32))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")


class AlertRecipientRow(Base):
    """Someone an alert was sent to (the pupil's key worker, the provider's coordinators)."""

    __tablename__ = "engagement_alert_recipients"

    alert_id: Mapped[str] = mapped_column(
        ForeignKey("engagement_alerts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SharedNoteRow(Base):
    """A key worker's note on a pupil; ``shared`` ones go into the home-school report."""

    __tablename__ = "engagement_notes"
    __table_args__ = (Index("ix_engagement_notes_pupil_at", "pupil_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"))
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class EngagementRunRow(Base):
    """The day a daily engagement job last ran (claimed atomically: once a day, one instance)."""

    __tablename__ = "engagement_runs"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_day: Mapped[date]
    ran_at: Mapped[datetime]
