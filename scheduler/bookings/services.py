"""Use cases of bookings: book one occurrence or many by rule, cancel, flag on change.

Every clash is reported at once and in words staff can act on. Functions
return the :class:`~scheduler.bookings.ports.BookingEvent`s of their changes; the
caller publishes them after its transaction commits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

import asyncpg
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings import repository as booking_repo
from scheduler.bookings.loading import (
    Devices,
    Overlaps,
    Plan,
    choose_devices,
    load_overlaps,
    load_plan,
    pick_devices,
    split_overlaps,
)
from scheduler.bookings.models import Booking
from scheduler.bookings.ports import BookingEvent, BookingEventKind
from scheduler.bookings.repository import AuditOf, BookingRows, NewBooking, StoredBooking
from scheduler.bookings.rules import Clash, DeviceFacts, PupilFacts, clashes_of, find_occurrence
from scheduler.timetables import repository as repo
from scheduler.timetables.calendar import CalendarError, SchoolCalendar
from scheduler.timetables.models import LessonRow
from scheduler.timetables.occurrences import Lesson, Occurrence, expand
from telepresence.platform.database import new_id
from telepresence.platform.errors import Conflict, InvalidInput, NotFound
from telepresence.platform.models import Pupil
from telepresence.platform.security.identity import Principal, Role

__all__ = [
    "MAX_BULK_DAYS",
    "BulkOutcome",
    "Skipped",
    "book_occurrence",
    "book_occurrence_in_sql",
    "bulk_book",
    "cancel_booking",
    "keep_as_one_off",
    "list_bookings",
    "list_flagged",
    "pupils_with_future_bookings",
    "reconcile_bookings",
]

MAX_BULK_DAYS = 120
BOOKED_BY_SOMEONE_ELSE = "This lesson was booked by someone else a moment ago."
DEADLOCK_DETECTED = "40P01"
# A flagged booking staff kept as it was: its own key, so no later re-import flags it again.
ONE_OFF_PREFIX = "1off-"


class EventColumns(Protocol):
    """What an event says of a booking: its row, or the values just inserted."""

    @property
    def id(self) -> str: ...
    @property
    def pupil_id(self) -> str: ...
    @property
    def school_id(self) -> str: ...
    @property
    def lesson_key(self) -> str: ...
    @property
    def lesson_date(self) -> date: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def room(self) -> str: ...
    @property
    def classroom_device_id(self) -> str: ...
    @property
    def pupil_device_id(self) -> str | None: ...


def booking_event(
    booking: EventColumns, kind: BookingEventKind, at: datetime, reason: str | None = None
) -> BookingEvent:
    """The event describing ``booking`` after a change of ``kind``."""
    return BookingEvent(
        kind=kind,
        booking_id=booking.id,
        pupil_id=booking.pupil_id,
        school_id=booking.school_id,
        lesson_key=booking.lesson_key,
        lesson_date=booking.lesson_date,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        room=booking.room,
        classroom_device_id=booking.classroom_device_id,
        pupil_device_id=booking.pupil_device_id,
        at=at,
        reason=reason,
    )


def _new_booking(
    plan: Plan,
    lesson: Lesson,
    occ: Occurrence,
    devices: Devices,
    who: Principal,
    now: datetime,
) -> Booking:
    return Booking(
        pupil_id=plan.pupil.id,
        school_id=plan.pupil.school_id,
        lesson_key=occ.lesson_key,
        lesson_date=occ.date,
        starts_at=occ.start,
        ends_at=occ.end,
        subject=lesson.subject,
        room=lesson.room,
        classroom_device_id=devices.classroom.id,
        pupil_device_id=devices.pupil.id if devices.pupil else None,
        status="booked",
        created_at=now,
        created_by=who.subject_id,
    )


async def _lesson(session: AsyncSession, plan: Plan, lesson_id: str) -> LessonRow:
    row = await session.get(LessonRow, lesson_id)
    if row is None or row.pupil_id != plan.pupil.id:
        raise NotFound(f"{plan.name} has no lesson {lesson_id!r}.")
    return row


async def _insert(session: AsyncSession, booking: Booking) -> None:
    session.add(booking)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent request booked the same occurrence first
        raise Conflict(BOOKED_BY_SOMEONE_ELSE) from exc
    except DBAPIError as exc:
        # PostgreSQL: a clashing booking inserted at the same moment waited for this one's
        # while this one waited for it (exclusion constraints); this one gave way.
        if getattr(exc.orig, "sqlstate", None) == DEADLOCK_DETECTED:
            raise Conflict(BOOKED_BY_SOMEONE_ELSE) from exc
        raise


# --- use cases -----------------------------------------------------------------------------


async def book_occurrence(
    session: AsyncSession,
    who: Principal,
    pupil_id: str,
    *,
    lesson_id: str,
    day: date,
    classroom_device_id: str | None,
    pupil_device_id: str | None,
    now: datetime,
) -> tuple[Booking, list[BookingEvent]]:
    """Book the pupil into the occurrence of ``lesson_id`` on local date ``day``.

    Devices default to the pupil's assigned robot and tablet. Raises
    ``Conflict`` whose ``errors`` list every clash (already booked, device
    booked for another pupil or not active, unavailability, closure, past).
    """
    plan = await load_plan(session, who, pupil_id)
    lesson = repo.lesson_from_row(await _lesson(session, plan, lesson_id))
    found = _occurrence(plan.facts, lesson, day)
    devices = await choose_devices(session, plan, classroom_device_id, pupil_device_id)
    seen = await load_overlaps(session, plan, devices, found.start, found.end)
    _refuse_clashes(plan.facts, lesson, found, devices.facts, seen, now)
    booking = _new_booking(plan, lesson, found, devices, who, now)
    await _insert(session, booking)
    return booking, [booking_event(booking, BookingEventKind.BOOKED, now)]


# --- the rules one booking asks, on whichever backend's values ------------------------------


def _occurrence(facts: PupilFacts, lesson: Lesson, day: date) -> Occurrence:
    """The lesson's occurrence on ``day``; ``Conflict`` (closed, no school) or ``InvalidInput``."""
    found = find_occurrence(facts.calendar, lesson, day)
    if isinstance(found, Clash):
        raise Conflict(f"Cannot book {lesson.subject}: {found.message}.", errors=[found.as_error()])
    return found


def _refuse_clashes(
    facts: PupilFacts,
    lesson: Lesson,
    occ: Occurrence,
    devices: Sequence[DeviceFacts],
    seen: Overlaps,
    now: datetime,
) -> None:
    """``Conflict`` naming every clash of booking ``occ`` with ``devices`` at ``now``."""
    clashes = clashes_of(facts, lesson, occ, devices, seen.own, seen.others, now)
    if clashes:
        raise Conflict(
            f"Cannot book {facts.label(lesson.subject, occ)}: "
            + "; ".join(c.message for c in clashes)
            + ".",
            errors=[c.as_error() for c in clashes],
        )


# --- a booking on PostgreSQL: two statements, no transaction, no lock ----------------------

CalendarOf = Callable[[str, int], Awaitable[SchoolCalendar]]
ATTEMPTS = 5


async def book_occurrence_in_sql(
    conn: Any,
    who: Principal,
    pupil_id: str,
    *,
    lesson_id: str,
    day: date,
    classroom_device_id: str | None,
    pupil_device_id: str | None,
    now: datetime,
    request_id: str,
    calendar_of: CalendarOf,
) -> tuple[StoredBooking, list[BookingEvent]]:
    """``book_occurrence`` on an asyncpg ``conn`` (PostgreSQL), outside any transaction, with
    the same rules, answers and errors; the audit entry is written with the booking.

    One statement reads what the rules need (no lock); one inserts the booking and its
    audit entry only if the pupil's and devices' rows, the lesson and the calendar are
    as read (``BOOKING_INSERT``): a booking, lock or import of the pupil or a device in
    between makes it write nothing, and the booking is read and decided again (at most
    ``ATTEMPTS`` times). ``calendar_of(school_id, stamp)`` reads a calendar not in memory.
    """
    for _ in range(ATTEMPTS):
        rows, new = await _decide_in_sql(
            conn, who, pupil_id, lesson_id, day, classroom_device_id, pupil_device_id, now,
            calendar_of,
        )  # fmt: skip
        audit = AuditOf(who.provider_id, who.role.value, request_id)
        try:
            inserted = await booking_repo.insert_booking(
                conn, new, audit, read=rows, lesson_id=lesson_id
            )
        except asyncpg.UniqueViolationError as exc:
            # The same occurrence booked a moment ago under a lock (a bulk booking): the
            # rules say so in words, or, when it is gone again, the plain words.
            await _decide_in_sql(
                conn, who, pupil_id, lesson_id, day, classroom_device_id, pupil_device_id, now,
                calendar_of,
            )  # fmt: skip
            raise Conflict(BOOKED_BY_SOMEONE_ELSE) from exc
        except asyncpg.DeadlockDetectedError:
            # Two bookings took the same rows' locks in different orders: this one gave
            # way (nothing written), the other goes on. Ask again.
            continue
        if inserted:
            stored = StoredBooking(
                new.id, new.pupil_id, new.lesson_key, new.lesson_date, new.starts_at,
                new.ends_at, new.subject, new.room, new.classroom_device_id,
                new.pupil_device_id, "booked", None, None, None,
            )  # fmt: skip
            return stored, [booking_event(new, BookingEventKind.BOOKED, now)]
    raise Conflict(
        "The pupil or a device was being booked or changed at the same moment; try again."
    )


async def _decide_in_sql(
    conn: Any,
    who: Principal,
    pupil_id: str,
    lesson_id: str,
    day: date,
    classroom_device_id: str | None,
    pupil_device_id: str | None,
    now: datetime,
    calendar_of: CalendarOf,
) -> tuple[BookingRows, NewBooking]:
    """Read (one statement) and ask the rules: what was read, and the booking to insert;
    raises as ``book_occurrence``."""
    given = [d for d in (classroom_device_id, pupil_device_id) if d]
    defaults = not (classroom_device_id and pupil_device_id)
    # Any booking that meets an occurrence on local date ``day`` meets this span (any zone).
    midnight = datetime.combine(day, time(), UTC)
    near = (midnight - timedelta(days=1), midnight + timedelta(days=2))
    rows = await booking_repo.booking_rows(conn, pupil_id, lesson_id, given, defaults, near)
    if rows is None or rows.provider_id != who.provider_id:
        raise NotFound(f"There is no pupil {pupil_id!r}.")
    if who.role is Role.PUPIL and who.subject_id != pupil_id:
        raise NotFound(f"There is no pupil {pupil_id!r}.")
    name = repo.pupil_display_name(rows)
    if rows.lesson is None:
        raise NotFound(f"{name} has no lesson {lesson_id!r}.")
    calendar = repo.remembered_calendar(rows.school_id, rows.stamp, rows.time_zone)
    if calendar is None:
        calendar = await calendar_of(rows.school_id, rows.stamp)
    unavailable = [booking_repo.unavailable_from_row(u) for u in rows.unavailable]
    facts = PupilFacts(name, rows.school_id, calendar, unavailable)
    lesson = repo.lesson_from_row(rows.lesson)
    found = _occurrence(facts, lesson, day)
    devices = pick_devices(
        name, pupil_id, rows.provider_id, rows.devices, classroom_device_id, pupil_device_id
    )
    seen = split_overlaps(
        pupil_id,
        devices.ids,
        ((b, f"{b.first_name} {b.last_name[:1]}.".strip()) for b in rows.seen),
    )
    _refuse_clashes(facts, lesson, found, devices.facts, seen, now)
    new = NewBooking(
        new_id(), pupil_id, rows.school_id, found.lesson_key, found.date, found.start,
        found.end, lesson.subject, lesson.room, devices.classroom.id,
        devices.pupil.id if devices.pupil else None, now, who.subject_id,
    )  # fmt: skip
    return rows, new


@dataclass(frozen=True, slots=True)
class Skipped:
    """An occurrence a bulk booking left alone, and why."""

    lesson_id: str
    occurrence: Occurrence
    subject: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    """What a bulk booking booked and what it skipped."""

    booked: tuple[Booking, ...]
    skipped: tuple[Skipped, ...]
    events: tuple[BookingEvent, ...]
    # Days of the range the school is shut, said once per run ("Half term: Mon 17 to Fri 21 Feb").
    closed: tuple[str, ...] = ()


async def bulk_book(
    session: AsyncSession,
    who: Principal,
    pupil_id: str,
    *,
    subjects: Iterable[str],
    from_date: date,
    to_date: date,
    classroom_device_id: str | None,
    pupil_device_id: str | None,
    now: datetime,
) -> BulkOutcome:
    """Book every occurrence of the given subjects (all when empty) in the date range.

    Occurrences that clash (unavailability, already booked, device busy, past)
    are skipped and reported with their reasons; the rest are booked in the
    caller's transaction. Raises ``InvalidInput`` for a reversed or over-long range.
    """
    if to_date < from_date or (to_date - from_date).days >= MAX_BULK_DAYS:
        raise InvalidInput(f"Give a range of 1 to {MAX_BULK_DAYS} days, 'from' first.")
    plan = await load_plan(session, who, pupil_id)
    wanted = {s.strip().casefold() for s in subjects if s.strip()}
    rows = [
        r
        for r in await repo.load_lessons(session, plan.pupil.id)
        if not wanted or r.subject.casefold() in wanted
    ]
    lessons = {r.key: (r.id, repo.lesson_from_row(r)) for r in rows}
    try:
        occurrences = expand(
            (lsn for _, lsn in lessons.values()), plan.calendar, from_date, to_date
        )
    except CalendarError as exc:
        raise Conflict(f"The timetable cannot be laid on the school's calendar: {exc}.") from exc
    devices = await choose_devices(session, plan, classroom_device_id, pupil_device_id)
    booked: list[Booking] = []
    skipped: list[Skipped] = []
    closed = tuple(plan.calendar.closed_spans(from_date, to_date))
    if not occurrences:
        return BulkOutcome((), (), (), closed)
    start, end = min(o.start for o in occurrences), max(o.end for o in occurrences)
    seen = await load_overlaps(session, plan, devices, start, end)
    facts = devices.facts
    for occ in occurrences:
        lesson_id, lesson = lessons[occ.lesson_key]
        clashes = clashes_of(plan.facts, lesson, occ, facts, seen.own, seen.others, now)
        if clashes:
            reasons = tuple(c.message for c in clashes)
            skipped.append(Skipped(lesson_id, occ, lesson.subject, reasons))
            continue
        booking = _new_booking(plan, lesson, occ, devices, who, now)
        booked.append(booking)
        seen.add_own(booking)
    for booking in booked:
        await _insert(session, booking)
    events = tuple(booking_event(b, BookingEventKind.BOOKED, now) for b in booked)
    return BulkOutcome(tuple(booked), tuple(skipped), events, closed)


async def cancel_booking(
    session: AsyncSession, who: Principal, booking_id: str, reason: str, now: datetime
) -> tuple[Booking, list[BookingEvent]]:
    """Cancel a live booking with a reason (kept).

    Raises ``Conflict`` when it is already cancelled or completed, or its lesson has ended.
    """
    await booking_repo.lock_booking(session, booking_id)
    booking = await session.get(Booking, booking_id, populate_existing=True)
    if booking is None:
        raise NotFound(f"There is no booking {booking_id!r}.")
    await repo.visible_pupil(session, who, booking.pupil_id)
    if booking.status != "booked":
        raise Conflict(f"This booking is already {booking.status}.")
    if booking.ends_at <= now:
        raise Conflict("This lesson has already ended; its booking stays as it was.")
    booking.status = "cancelled"
    booking.cancel_reason = reason
    booking.cancelled_at = now
    booking.cancelled_by = who.subject_id
    await session.flush()
    return booking, [booking_event(booking, BookingEventKind.CANCELLED, now, reason)]


async def keep_as_one_off(
    session: AsyncSession, who: Principal, booking_id: str, now: datetime
) -> tuple[Booking, list[BookingEvent]]:
    """Keep a flagged booking as a one-off lesson at its booked time and room.

    The flag is cleared and the booking no longer follows the timetable (its
    lesson was removed or moved), so the rota plans its move again. Raises
    ``Conflict`` when it is not flagged, not live, or over.
    """
    await booking_repo.lock_booking(session, booking_id)
    booking = await session.get(Booking, booking_id, populate_existing=True)
    if booking is None:
        raise NotFound(f"There is no booking {booking_id!r}.")
    await repo.visible_pupil(session, who, booking.pupil_id)
    if booking.status != "booked" or booking.flagged_reason is None:
        raise Conflict("Only a flagged, live booking can be kept as a one-off.")
    if booking.ends_at <= now:
        raise Conflict("This lesson has already ended; its booking stays as it was.")
    booking.lesson_key = f"{ONE_OFF_PREFIX}{booking.id}"[:40]
    booking.flagged_reason = None
    booking.flagged_at = None
    await session.flush()
    return booking, [booking_event(booking, BookingEventKind.CHANGED, now, "kept as a one-off")]


async def list_bookings(
    session: AsyncSession, who: Principal, pupil_id: str, from_date: date, to_date: date
) -> list[Booking]:
    """The pupil's bookings (all statuses) with local dates in the range, by start."""
    pupil = await repo.visible_pupil(session, who, pupil_id)
    rows = await session.scalars(
        select(Booking)
        .where(
            Booking.pupil_id == pupil.id,
            Booking.lesson_date >= from_date,
            Booking.lesson_date <= to_date,
        )
        .order_by(Booking.starts_at, Booking.created_at)
    )
    return list(rows)


async def list_flagged(session: AsyncSession, who: Principal, now: datetime) -> list[Booking]:
    """Live future bookings of the caller's provider that a change flagged, soonest first."""
    rows = await session.scalars(
        select(Booking)
        .join(Pupil, Pupil.id == Booking.pupil_id)
        .where(
            Pupil.provider_id == who.provider_id,
            Booking.status == "booked",
            Booking.flagged_reason.is_not(None),
            Booking.ends_at > now,
        )
        .order_by(Booking.starts_at)
    )
    return list(rows)


async def reconcile_bookings(
    session: AsyncSession,
    pupil_id: str,
    lessons: Mapping[str, Lesson],
    calendar: SchoolCalendar,
    now: datetime,
    cause: str,
) -> list[BookingEvent]:
    """Check the pupil's future live bookings against a new timetable or calendar.

    A booking whose lesson vanished, moved or no longer takes place that day is
    flagged with a reason (never deleted or cancelled: staff decide); one whose
    room or end time changed is updated. Already-flagged bookings are left alone.
    """
    events: list[BookingEvent] = []
    for booking in await booking_repo.live_bookings(session, [pupil_id], starting_after=now):
        if booking.flagged_reason is not None or booking.lesson_key.startswith(ONE_OFF_PREFIX):
            continue
        lesson = lessons.get(booking.lesson_key)
        reason = _vanished(booking, lesson, calendar, cause)
        if reason is not None:
            booking.flagged_reason = reason[:300]
            booking.flagged_at = now
            events.append(booking_event(booking, BookingEventKind.FLAGGED, now, reason))
        elif lesson is not None and _refresh(booking, lesson, calendar):
            events.append(booking_event(booking, BookingEventKind.CHANGED, now, cause))
    await session.flush()
    return events


def _vanished(
    booking: Booking, lesson: Lesson | None, calendar: SchoolCalendar, cause: str
) -> str | None:
    when = f"{booking.subject} on {booking.lesson_date:%a %d %b}"
    if lesson is None:
        return f"{when} is no longer in the timetable: removed or moved ({cause})"
    try:
        found = expand([lesson], calendar, booking.lesson_date, booking.lesson_date)
    except CalendarError:
        found = []
    if not found:
        return f"{when} no longer takes place on that day ({cause})"
    if found[0].start != booking.starts_at:
        return f"{when} now starts at {found[0].start_local:%H:%M} ({cause})"
    return None


def _refresh(booking: Booking, lesson: Lesson, calendar: SchoolCalendar) -> bool:
    occ = expand([lesson], calendar, booking.lesson_date, booking.lesson_date)[0]
    changed = (booking.ends_at, booking.room, booking.subject) != (
        occ.end,
        lesson.room,
        lesson.subject,
    )
    booking.ends_at, booking.room, booking.subject = occ.end, lesson.room, lesson.subject
    return changed


async def pupils_with_future_bookings(
    session: AsyncSession, ids: Sequence[str], now: datetime, chunk: int = 1000
) -> set[str]:
    """The pupils among ``ids`` with live bookings still to start (only they need reconciling)."""
    found: set[str] = set()
    for start in range(0, len(ids), chunk):
        found |= set(
            await session.scalars(
                select(Booking.pupil_id)
                .where(
                    Booking.pupil_id.in_(list(ids[start : start + chunk])),
                    Booking.status == "booked",
                    Booking.starts_at > now,
                )
                .distinct()
            )
        )
    return found
