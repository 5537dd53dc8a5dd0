"""Tables of the move rota: assistants' duty, absences, walking times, moves and their history.

Duty patterns are local wall-clock times in the school's zone (read with the
school's ``ZoneInfo``); every instant (a move's window, a confirmation) is
aware UTC. A move's ``id`` is the domain's content hash (``mv-…``), so
deriving the same day twice finds the same rows.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from telepresence.platform.database import Base, new_id

__all__ = [
    "MOVE_STATUSES",
    "OPEN_STATUSES",
    "AbsenceRow",
    "AssistantRotaRow",
    "DutyPatternRow",
    "FeedTokenRow",
    "MoveRow",
    "RotaChangeRow",
    "RotaDeclineRow",
    "RotaDrainRow",
    "RotaMorningRow",
    "WalkingOverrideRow",
    "WalkingRuleRow",
]

MOVE_STATUSES = ("pending", "assigned", "done", "failed", "escalated")
OPEN_STATUSES = frozenset({"pending", "assigned", "escalated"})
"""Moves the planner may still change; ``done`` and ``failed`` are history."""


class DutyPatternRow(Base):
    """A weekly stretch of duty of one assistant: weekday (0 = Monday), local times, breaks.

    ``breaks`` is a list of ``["HH:MM", "HH:MM"]`` pairs inside the stretch.
    """

    __tablename__ = "rota_duty_patterns"
    __table_args__ = (Index("ix_rota_duty_patterns_user_weekday", "user_id", "weekday"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[time]
    end_time: Mapped[time]
    breaks: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]


class AbsenceRow(Base):
    """An assistant away on some days ("off sick today"), both ends inclusive."""

    __tablename__ = "rota_absences"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[date]
    end_date: Mapped[date]
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(32))


class AssistantRotaRow(Base):
    """Per-assistant rota settings: a cap on moves per day, a phone, the last look at the rota.

    ``base_room_id`` is the room they usually start their duty from (the
    learning-support base, say); ``None``: unknown, and the planner assumes
    they start next to their first move.
    """

    __tablename__ = "rota_assistants"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    max_moves_per_day: Mapped[int | None] = mapped_column(Integer)
    phone: Mapped[str | None] = mapped_column(String(40))
    last_look_at: Mapped[datetime | None]
    base_room_id: Mapped[str | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"))


class FeedTokenRow(Base):
    """A secret iCalendar feed URL of one assistant, stored as a SHA-256 digest; revocable."""

    __tablename__ = "rota_feed_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class WalkingRuleRow(Base):
    """A school's walking times in seconds: same floor, same building, another building."""

    __tablename__ = "rota_walking_rules"

    school_id: Mapped[str] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    same_floor_s: Mapped[int] = mapped_column(Integer)
    same_building_s: Mapped[int] = mapped_column(Integer)
    other_building_s: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class WalkingOverrideRow(Base):
    """The walking time of one pair of rooms (``room_a_id < room_b_id``), both directions."""

    __tablename__ = "rota_walking_overrides"

    school_id: Mapped[str] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    room_a_id: Mapped[str] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    room_b_id: Mapped[str] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    seconds: Mapped[int] = mapped_column(Integer)


class MoveRow(Base):
    """One move of one school day, its assistant and what became of it.

    Rooms are the school's room ids where the booking names a known room, and
    always the room's name as shown. ``status``: ``pending`` (nobody yet:
    ``status_reason`` says why), ``assigned``, ``done``, ``failed``
    (``status_reason`` says why), ``escalated``. ``version`` grows with every
    change, for optimistic concurrency of confirmations and manual edits.
    """

    __tablename__ = "rota_moves"
    __table_args__ = (
        Index("ix_rota_moves_school_date", "school_id", "local_date"),
        Index("ix_rota_moves_assistant_date", "assistant_id", "local_date"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    local_date: Mapped[date]
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    # Indexed: a lesson's outcome looks up the moves that should have brought its robot.
    booking_id: Mapped[str] = mapped_column(String(32), index=True)
    pupil_id: Mapped[str | None] = mapped_column(ForeignKey("pupils.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(10))
    from_room_id: Mapped[str] = mapped_column(String(110))
    from_room_name: Mapped[str] = mapped_column(String(100))
    to_room_id: Mapped[str] = mapped_column(String(110))
    to_room_name: Mapped[str] = mapped_column(String(100))
    earliest: Mapped[datetime]
    due: Mapped[datetime]
    departs_at: Mapped[datetime | None]
    done_by_plan: Mapped[datetime | None]
    assistant_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    status_reason: Mapped[str | None] = mapped_column(String(300))
    reminded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[str | None] = mapped_column(String(32))
    contradicted_at: Mapped[datetime | None]
    contradiction: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RotaChangeRow(Base):
    """A change to someone's rota worth telling them ("what changed since your last look")."""

    __tablename__ = "rota_changes"
    __table_args__ = (Index("ix_rota_changes_assistant_at", "assistant_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    local_date: Mapped[date]
    assistant_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    move_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    text: Mapped[str] = mapped_column(String(300))


class RotaDeclineRow(Base):
    """An assistant's "Can't do it" for a move: the planner offers the move to anyone else."""

    __tablename__ = "rota_declines"

    move_id: Mapped[str] = mapped_column(
        ForeignKey("rota_moves.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime]
    reported_by: Mapped[str] = mapped_column(String(32))


class RotaMorningRow(Base):
    """When a school day's morning plan (fresh battery readings, then the morning message) ran."""

    __tablename__ = "rota_mornings"

    school_id: Mapped[str] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    local_date: Mapped[date] = mapped_column(primary_key=True)
    planned_at: Mapped[datetime]


class RotaDrainRow(Base):
    """A robot's battery use in lessons, learned from its telemetry (``rota.domain.drain``)."""

    __tablename__ = "rota_drain_rates"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    pct_per_hour: Mapped[float] = mapped_column(Float)
    hours: Mapped[float] = mapped_column(Float)  # of lesson readings behind it
    learned_at: Mapped[datetime]
