"""Request and response models of the rota's HTTP API.

Local dates are ``YYYY-MM-DD`` and local times ``HH:MM`` in the school's
zone; instants are UTC ISO 8601. Pupils appear as first name and initial.
"""

from __future__ import annotations

from datetime import date, datetime, time

from pydantic import BaseModel, Field

from telepresence.platform.http.routing import Schema

LocalDate = date  # fields named ``date`` would shadow the type in their class

__all__ = [
    "AbsenceIn",
    "AbsenceOut",
    "AssignIn",
    "BaseRoomIn",
    "BreakIn",
    "CantDoIn",
    "ConfirmIn",
    "DateQuery",
    "DutyIn",
    "DutyOut",
    "DutyPatternIn",
    "FeedOut",
    "MoveOut",
    "RotaOut",
    "WalkingIn",
    "WalkingOut",
    "WalkingOverrideIn",
]


class BreakIn(Schema):
    """A break inside a stretch of duty (local times)."""

    start: time
    end: time


class DutyPatternIn(Schema):
    """A weekly stretch of duty: weekday 0 (Monday) to 6, local start and end, breaks."""

    weekday: int = Field(ge=0, le=6)
    start: time
    end: time
    breaks: list[BreakIn] = Field(default_factory=list, max_length=6)


class DutyIn(Schema):
    """An assistant's whole duty: replaces every pattern they had; an optional daily cap."""

    patterns: list[DutyPatternIn] = Field(max_length=40)
    max_moves_per_day: int | None = Field(default=None, ge=0, le=200)
    phone: str | None = Field(default=None, max_length=40)


class DutyOut(BaseModel):
    """An assistant's duty patterns (by weekday, then start), cap and contact."""

    user_id: str
    name: str
    school_id: str
    patterns: list[DutyPatternIn]
    max_moves_per_day: int | None
    phone: str | None
    base_room_id: str | None = None
    base_room: str | None = None


class BaseRoomIn(Schema):
    """The room an assistant usually starts their duty from, or ``null`` for unknown."""

    room_id: str | None = Field(max_length=32)


class AbsenceIn(Schema):
    """Days away, both ends inclusive ("off sick today": the same date twice)."""

    start_date: date
    end_date: date
    reason: str = Field(default="", max_length=200)


class AbsenceOut(BaseModel):
    """A recorded absence and how many moves the re-plan changed for others."""

    id: str
    user_id: str
    start_date: date
    end_date: date
    reason: str
    replanned_days: int = 0


class WalkingOverrideIn(Schema):
    """The walking time between two rooms of the school, either way."""

    room_a_id: str = Field(min_length=1, max_length=32)
    room_b_id: str = Field(min_length=1, max_length=32)
    minutes: float = Field(ge=0, le=60)


class WalkingIn(Schema):
    """A school's walking rule (minutes) and its per-pair overrides (replaced whole)."""

    same_floor_minutes: float = Field(default=2, ge=0, le=60)
    same_building_minutes: float = Field(default=4, ge=0, le=60)
    other_building_minutes: float = Field(default=8, ge=0, le=60)
    overrides: list[WalkingOverrideIn] = Field(default_factory=list, max_length=500)


class WalkingOut(WalkingIn):
    """The school's walking rule as stored."""

    school_id: str


class DateQuery(Schema):
    """Which school day (default: today in the school's zone)."""

    date: LocalDate | None = None


class ConfirmIn(Schema):
    """``version``: the move's version as the caller saw it (refused if it changed since)."""

    version: int | None = None


class CantDoIn(Schema):
    """Why the move cannot be done, for the people who will sort it out."""

    reason: str = Field(min_length=2, max_length=300)
    version: int | None = None


class AssignIn(Schema):
    """Give the move to this assistant by hand (kept by every re-plan), or ``null`` to unpin."""

    assistant_id: str | None = Field(max_length=32)
    version: int | None = None


class MoveOut(BaseModel):
    """One move as people see it; ``display_status`` adds ``late`` and ``reminded``."""

    id: str
    date: LocalDate
    summary: str
    device_id: str
    device_name: str
    reason: str
    from_room: str
    to_room: str
    earliest: datetime
    due: datetime
    due_local: str
    departs_at: datetime | None
    assistant_id: str | None
    assistant_name: str | None
    pinned: bool
    status: str
    display_status: str
    status_reason: str | None
    pupil: str | None
    confirmed_at: datetime | None
    confirmed_by: str | None
    contradiction: str | None
    minutes_left: int | None
    version: int
    declines: list[str] = Field(
        default_factory=list,
        description='Who said "Can\'t do it" for this move, when (school time) and why.',
    )


class RotaOut(BaseModel):
    """A school day's moves in time order; ``unassigned`` counts open moves nobody has."""

    school_id: str
    date: LocalDate
    time_zone: str
    moves: list[MoveOut]
    unassigned: int
    changes: list[str] = Field(default_factory=list)
    battery_warnings: list[str] = Field(
        default_factory=list,
        description="Today only: lessons a robot's battery may not last, with no gap to charge.",
    )


class FeedOut(BaseModel):
    """A new secret calendar link (shown once; earlier links stop working)."""

    url: str
    created_at: datetime
