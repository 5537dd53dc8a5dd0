"""Tables of bookings: a pupil's unavailability, their booked occurrences and calendar feeds.

Weekly unavailability is stored as local times read in the school's zone;
instants (a booking's start, a one-off appointment) are aware UTC.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from telepresence.platform.database import Base, new_id
from telepresence.platform.versions import versioned

__all__ = ["Booking", "CalendarFeed", "UnavailabilityRow"]


class UnavailabilityRow(Base):
    """When a pupil cannot join lessons: weekly (dialysis Mon/Wed/Fri) or one-off.

    Weekly entries use ``weekdays`` and local ``start_time``/``end_time`` in the
    school's zone between ``valid_from`` and ``valid_to``; one-off entries use
    the UTC instants ``starts_at``/``ends_at``.
    """

    __tablename__ = "unavailability"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(200))
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)
    start_time: Mapped[time | None]
    end_time: Mapped[time | None]
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(32))


class Booking(Base):
    """A pupil booked into one occurrence (lesson key + local date) with two devices.

    ``flagged_reason`` is set when a re-import or calendar change means the
    occurrence vanished or moved: staff decide, nothing is deleted. At most one
    live (``booked``) booking per pupil and occurrence.
    """

    __tablename__ = "bookings"
    __table_args__ = (
        Index(
            "uq_bookings_live_occurrence",
            "pupil_id",
            "lesson_key",
            "lesson_date",
            unique=True,
            sqlite_where=text("status = 'booked'"),
            postgresql_where=text("status = 'booked'"),
        ),
        Index("ix_bookings_pupil_starts", "pupil_id", "starts_at"),
        Index("ix_bookings_classroom_device_starts", "classroom_device_id", "starts_at"),
        Index("ix_bookings_pupil_device_starts", "pupil_device_id", "starts_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"))
    school_id: Mapped[str] = mapped_column(ForeignKey("schools.id"), index=True)
    lesson_key: Mapped[str] = mapped_column(String(40))
    lesson_date: Mapped[date]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    subject: Mapped[str] = mapped_column(String(200))
    room: Mapped[str] = mapped_column(String(100), default="")
    classroom_device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    pupil_device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"))
    status: Mapped[str] = mapped_column(String(10), default="booked")
    outcome: Mapped[str | None] = mapped_column(String(10))
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(32))
    flagged_reason: Mapped[str | None] = mapped_column(String(300))
    flagged_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(32))


class CalendarFeed(Base):
    """A secret, revocable iCalendar feed URL of a pupil's bookings.

    Only the SHA-256 of the URL's token is stored; the token is shown once,
    when staff create the feed. A revoked feed answers 404 at once.
    """

    __tablename__ = "calendar_feeds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    pupil_id: Mapped[str] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(32))
    last_used_at: Mapped[datetime | None]


# Any change of a pupil's bookings or unavailability raises their data version
# (``telepresence.platform.versions``): answers computed from them are kept under it.
versioned(Booking, "pupil")
versioned(UnavailabilityRow, "pupil")
