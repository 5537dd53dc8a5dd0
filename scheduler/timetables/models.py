"""Tables of timetables: school calendars, pupils' timetables and lessons.

Local dates and wall-clock times (a school's term dates, a lesson's 08:50)
are stored as plain ``Date``/``Time`` columns and always read in the school's
zone; instants (a booking's start, a one-off appointment) are aware UTC.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from telepresence.platform.database import Base, new_id
from telepresence.platform.versions import versioned

__all__ = [
    "BellPeriodRow",
    "ClosureRow",
    "LessonRow",
    "PeriodCodeRow",
    "SchoolCalendarRow",
    "TermRow",
    "Timetable",
    "WeekOverrideRow",
]


class SchoolCalendarRow(Base):
    """A school's calendar settings; terms, closures and bells hang off the school."""

    __tablename__ = "school_calendars"

    school_id: Mapped[str] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    week_a_monday: Mapped[date | None]
    school_weekdays: Mapped[list[int]] = mapped_column(JSON, default=lambda: [0, 1, 2, 3, 4])
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(32))


class TermRow(Base):
    """A teaching term of a school, both ends inclusive."""

    __tablename__ = "school_terms"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    start_date: Mapped[date]
    end_date: Mapped[date]


class ClosureRow(Base):
    """Days a school is shut inside a term (half term, bank holiday, INSET), inclusive."""

    __tablename__ = "school_closures"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    start_date: Mapped[date]
    end_date: Mapped[date]


class WeekOverrideRow(Base):
    """The letter of one week, set by hand where a school broke the A/B alternation."""

    __tablename__ = "school_week_overrides"

    school_id: Mapped[str] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    week_monday: Mapped[date] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(1))


class BellPeriodRow(Base):
    """A named period of a school's day with local start and end."""

    __tablename__ = "school_bell_periods"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(40))
    start_time: Mapped[time]
    end_time: Mapped[time]


class PeriodCodeRow(Base):
    """One of a school's own OneRoster period codes and what it means ("x1" -> "A:Mon:1")."""

    __tablename__ = "school_period_codes"

    school_id: Mapped[str] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    meaning: Mapped[str] = mapped_column(String(40))


class Timetable(Base):
    """Where a pupil's current timetable came from (its lessons are ``LessonRow``s)."""

    __tablename__ = "timetables"

    pupil_id: Mapped[str] = mapped_column(
        ForeignKey("pupils.id", ondelete="CASCADE"), primary_key=True
    )
    source_format: Mapped[str] = mapped_column(String(12))
    file_name: Mapped[str] = mapped_column(String(200))
    lesson_count: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime]
    imported_by: Mapped[str] = mapped_column(String(32))


class LessonRow(Base):
    """One recurring entry of a pupil's timetable; ``key`` is the domain's slot key."""

    __tablename__ = "lessons"
    __table_args__ = (Index("uq_lessons_pupil_key", "pupil_id", "key", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    class_group: Mapped[str] = mapped_column(String(100), default="")
    teacher: Mapped[str] = mapped_column(String(200), default="")
    room: Mapped[str] = mapped_column(String(100), default="")
    weekday: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[time]
    end_time: Mapped[time]
    # "A", "B", NULL (every week) or "2": every other week from valid_from's week.
    week: Mapped[str | None] = mapped_column(String(1))
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]
    excluded_dates: Mapped[list[str]] = mapped_column(JSON, default=list)
    extra_dates: Mapped[list[str]] = mapped_column(JSON, default=list)


# Any change of a pupil's lessons or of a school's calendar raises its data version
# (``telepresence.platform.versions``): answers computed from them are kept under it.
versioned(LessonRow, "pupil")
for _calendar_table in (SchoolCalendarRow, TermRow, ClosureRow, WeekOverrideRow, BellPeriodRow):
    versioned(_calendar_table, "school")
