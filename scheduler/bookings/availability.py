"""What a pupil can be booked into: their dated occurrences with booking state, and the
treatment and appointments (unavailability) that block some of them.

Every function takes an ``AsyncSession`` inside the caller's transaction, the
caller (``who``) and the time (``now``, aware UTC) as plain values.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings import repository as booking_repo
from scheduler.bookings.domain import BookedFields, OccurrenceView, occurrence_state
from scheduler.bookings.models import Booking, UnavailabilityRow
from scheduler.bookings.ports import LessonOutcomes, PastLesson
from scheduler.bookings.repository import StoredBooking
from scheduler.bookings.unavailability.domain import Unavailable, WeeklyUnavailable, blocking
from scheduler.timetables import repository as repo
from scheduler.timetables.calendar import DEFAULT_TIMEZONE, CalendarError, SchoolCalendar
from scheduler.timetables.occurrences import Lesson, Occurrence, expand
from telepresence.platform.errors import Conflict, InvalidInput, NotFound
from telepresence.platform.models import Pupil, School
from telepresence.platform.security.identity import Principal, Role

__all__ = [
    "MAX_OCCURRENCE_DAYS",
    "Week",
    "add_unavailability",
    "check_range",
    "lay_out",
    "list_unavailability",
    "occurrences_for",
    "past_lessons",
    "read_week",
]

MAX_OCCURRENCE_DAYS = 366
B = TypeVar("B", bound=BookedFields)


def check_range(from_date: date, to_date: date) -> None:
    """Raises ``InvalidInput`` for a reversed or over-long range of dates."""
    if to_date < from_date:
        raise InvalidInput("'to' is before 'from'.", errors=[{"field": "to", "message": "before"}])
    if (to_date - from_date).days >= MAX_OCCURRENCE_DAYS:
        raise InvalidInput(f"Ask for at most {MAX_OCCURRENCE_DAYS} days at a time.")


async def occurrences_for(
    session: AsyncSession,
    who: Principal,
    pupil_id: str,
    from_date: date,
    to_date: date,
    now: datetime,
) -> tuple[Pupil, list[OccurrenceView[Booking]]]:
    """The pupil's lesson occurrences from ``from_date`` to ``to_date`` inclusive, in order.

    Raises ``InvalidInput`` for a reversed or over-long range and ``Conflict``
    when the timetable needs A/B weeks the school's calendar no longer has.
    """
    check_range(from_date, to_date)
    pupil, school, stamp = await repo.school_with_stamp(session, who, pupil_id)
    calendar = await repo.dated_calendar(session, school, stamp)
    rows = await repo.load_lessons(session, pupil.id)
    lessons = {row.key: (row.id, repo.lesson_from_row(row)) for row in rows}
    bookings = await booking_repo.live_bookings(session, [pupil.id], between=(from_date, to_date))
    unavailable = [
        booking_repo.unavailable_from_row(r)
        for r in await booking_repo.load_unavailability(session, pupil.id)
    ]
    views = lay_out(calendar, lessons, bookings, unavailable, from_date, to_date, now)
    return pupil, views


def lay_out(
    calendar: SchoolCalendar,
    lessons: dict[str, tuple[str, Lesson]],
    bookings: Sequence[B],
    unavailable: list[Unavailable],
    from_date: date,
    to_date: date,
    now: datetime,
) -> list[OccurrenceView[B]]:
    """The occurrences of ``lessons`` (by key: lesson id and lesson) with ``bookings`` (the
    live ones of those dates) and what of ``unavailable`` blocks each, in start order.

    Raises ``Conflict`` when the timetable needs A/B weeks the calendar no longer has.
    """
    try:
        occurrences = expand((lsn for _, lsn in lessons.values()), calendar, from_date, to_date)
    except CalendarError as exc:
        raise Conflict(f"The timetable cannot be laid on the school's calendar: {exc}.") from exc
    booked = {(b.lesson_key, b.lesson_date): b for b in bookings}
    zone = calendar.zone
    views: list[OccurrenceView[B]] = []
    for occ in occurrences:
        lesson_id, lesson = lessons[occ.lesson_key]
        booking = booked.get((occ.lesson_key, occ.date))
        blocked = tuple(u.describe(zone) for u in blocking(unavailable, occ))
        state = occurrence_state(occ, booking is not None, blocked, now)
        views.append(OccurrenceView(occ, lesson_id, lesson, booking, blocked, state))
    seen = {(v.occurrence.lesson_key, v.occurrence.date) for v in views}
    orphans = [_orphan_view(b, zone) for b in bookings if (b.lesson_key, b.lesson_date) not in seen]
    return sorted([*views, *orphans], key=lambda v: v.occurrence.start) if orphans else views


LESSONS_CACHE_SIZE = 2048


# A pupil's lessons as domain objects, by their stored columns: a timetable changes a few
# times a term; every week read would otherwise convert (and decode) them all again. Keyed
# by the columns themselves (ids included), so a change on any instance is a new key; the
# least recently read are dropped past LESSONS_CACHE_SIZE timetables.
@functools.lru_cache(maxsize=LESSONS_CACHE_SIZE)
def _lessons(stored: tuple[tuple[Any, ...], ...]) -> dict[str, tuple[str, Lesson]]:
    values = [booking_repo.lesson_values(v) for v in stored]
    return {v.key: (v.id, repo.lesson_from_row(v)) for v in values}


class Week(NamedTuple):
    """What ``read_week`` found: the views, or the school whose calendar must be read first."""

    views: list[OccurrenceView[StoredBooking]] | None
    school_id: str
    stamp: int


async def read_week(
    conn: Any,
    who: Principal,
    pupil_id: str,
    from_date: date,
    to_date: date,
    now: datetime,
    calendar: SchoolCalendar | None = None,
) -> Week:
    """``occurrences_for`` in one statement on an asyncpg ``conn`` (PostgreSQL).

    ``views`` is None when the school's calendar is not in memory (nor given): read
    it (``dated_calendar``) and call again with it. Raises as ``occurrences_for``.
    """
    check_range(from_date, to_date)
    found = await booking_repo.week_rows(conn, pupil_id, from_date, to_date)
    if (
        found is None
        or found.provider_id != who.provider_id
        or (who.role is Role.PUPIL and who.subject_id != pupil_id)
    ):
        raise NotFound(f"There is no pupil {pupil_id!r}.")
    if calendar is None:
        calendar = repo.remembered_calendar(found.school_id, found.stamp, found.time_zone)
    if calendar is None:
        return Week(None, found.school_id, found.stamp)
    lessons = _lessons(found.lessons)
    unavailable = [booking_repo.unavailable_from_row(v) for v in found.unavailable]
    views = lay_out(calendar, lessons, found.bookings, unavailable, from_date, to_date, now)
    return Week(views, found.school_id, found.stamp)


def _orphan_view(booking: B, zone: ZoneInfo) -> OccurrenceView[B]:
    """A live booking whose lesson is gone (flagged, or kept as a one-off), as an occurrence.

    So that the week grid and the API show it where it is booked, never "Free".
    """
    start, end = booking.starts_at.astimezone(zone), booking.ends_at.astimezone(zone)
    occ = Occurrence(
        booking.lesson_key, booking.lesson_date, start.time(), end.time(),
        booking.starts_at, booking.ends_at, None,
    )  # fmt: skip
    lesson = Lesson(
        subject=booking.subject,
        weekday=booking.lesson_date.weekday(),
        start=start.time(),
        end=max(end.time(), start.time()) if end.date() == start.date() else time(23, 59),
        room=booking.room,
        valid_from=booking.lesson_date,
        valid_to=booking.lesson_date,
    )
    return OccurrenceView(occ, "", lesson, booking, (), "booked")


async def past_lessons(
    session: AsyncSession,
    outcomes: LessonOutcomes | None,
    pupil_id: str,
    views: Sequence[OccurrenceView[B]],
    now: datetime,
) -> dict[tuple[str, date], PastLesson]:
    """What became of the lessons among ``views`` that are over, by (lesson key, date).

    A booked occurrence takes its booking's outcome; an occurrence with no live
    booking takes its latest cancelled booking's ("Cancelled: unwell"). Empty
    when nothing is over or no ``outcomes`` source is installed.
    """
    over = [v for v in views if v.occurrence.end <= now]
    if outcomes is None or not over:
        return {}
    found = await outcomes.of_pupil(
        session,
        pupil_id,
        min(v.occurrence.date for v in over),
        max(v.occurrence.date for v in over),
    )
    by_booking = {p.booking_id: p for p in found}
    cancelled = {(p.lesson_key, p.lesson_date): p for p in found if p.outcome == "cancelled"}
    out: dict[tuple[str, date], PastLesson] = {}
    for view in over:
        key = (view.occurrence.lesson_key, view.occurrence.date)
        past = by_booking.get(view.booking.id) if view.booking else cancelled.get(key)
        if past is not None:
            out[key] = past
    return out


async def list_unavailability(
    session: AsyncSession, who: Principal, pupil_id: str
) -> tuple[ZoneInfo, list[UnavailabilityRow]]:
    """The school's zone (to describe entries in) and the pupil's unavailability, weekly first."""
    pupil = await repo.visible_pupil(session, who, pupil_id)
    return await _zone(session, pupil), await booking_repo.load_unavailability(session, pupil.id)


async def _zone(session: AsyncSession, pupil: Pupil) -> ZoneInfo:
    school = await session.get(School, pupil.school_id)
    return ZoneInfo(school.time_zone if school else DEFAULT_TIMEZONE)


async def add_unavailability(
    session: AsyncSession,
    who: Principal,
    pupil_id: str,
    entry: Unavailable,
    now: datetime,
) -> tuple[ZoneInfo, UnavailabilityRow]:
    """Store a validated weekly or one-off unavailability (existing bookings are untouched).

    Returns the school's zone (to describe the entry in) and the stored row.
    """
    pupil = await repo.visible_pupil(session, who, pupil_id)
    row = UnavailabilityRow(
        pupil_id=pupil.id, reason=entry.reason, created_at=now, created_by=who.subject_id
    )
    _fill_unavailability(row, entry)
    session.add(row)
    await session.flush()
    return await _zone(session, pupil), row


async def _entry(
    session: AsyncSession, who: Principal, pupil_id: str, entry_id: str
) -> tuple[Pupil, UnavailabilityRow]:
    pupil = await repo.visible_pupil(session, who, pupil_id)
    row = await session.get(UnavailabilityRow, entry_id)
    if row is None or row.pupil_id != pupil.id:
        raise NotFound("There is no such unavailability entry.")
    return pupil, row


async def replace_unavailability(
    session: AsyncSession, who: Principal, pupil_id: str, entry_id: str, entry: Unavailable
) -> tuple[ZoneInfo, UnavailabilityRow]:
    """Change an entry in place (it may become weekly or one-off); bookings are untouched.

    Raises ``NotFound`` for an entry that is not this pupil's.
    """
    pupil, row = await _entry(session, who, pupil_id, entry_id)
    row.reason = entry.reason
    row.start_time = row.end_time = row.valid_from = row.valid_to = None
    row.starts_at = row.ends_at = None
    _fill_unavailability(row, entry)
    await session.flush()
    return await _zone(session, pupil), row


async def remove_unavailability(
    session: AsyncSession, who: Principal, pupil_id: str, entry_id: str
) -> UnavailabilityRow:
    """Delete an entry (lessons in its times can be booked again); ``NotFound`` otherwise."""
    _pupil, row = await _entry(session, who, pupil_id, entry_id)
    await session.delete(row)
    await session.flush()
    return row


def _fill_unavailability(row: UnavailabilityRow, entry: Unavailable) -> None:
    if isinstance(entry, WeeklyUnavailable):
        row.kind = "weekly"
        row.weekdays = sorted(entry.weekdays)
        row.start_time, row.end_time = entry.start, entry.end
        row.valid_from, row.valid_to = entry.valid_from, entry.valid_to
    else:
        row.kind = "once"
        row.weekdays = []
        row.starts_at, row.ends_at = entry.starts_at, entry.ends_at
