"""Computing and storing each finished booking's outcome from its session's timeline.

Runs for lessons that have just finished (every few minutes) and again for
the last fortnight every night, so events that arrive late are taken in.
Writing is an upsert by booking: running it twice gives the same rows. The
outcome word is also written back to the booking (``bookings.outcome``), so
the booking API says whether a lesson was attended; its ``status`` stays
``booked``, which the rota, the battery model and the calendar feeds read as
"this lesson takes place".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings.models import Booking
from scheduler.rota.models import MoveRow
from telepresence.engagement.domain import (
    DEFAULT_ATTENDED_SHARE,
    BookingFacts,
    LessonOutcome,
    TimelineEvent,
    lesson_outcome,
    week_monday,
)
from telepresence.engagement.models import OutcomeRow
from telepresence.engagement.rollup import refresh
from telepresence.platform.models import Pupil
from telepresence.sessions.models import LessonSession, SessionEvent

__all__ = ["FAILED_MOVES", "compute_outcomes", "finished_bookings"]

FAILED_MOVES = ("failed", "escalated")
"""Moves that did not get the robot to its lesson."""
ARRIVING = ("to_lesson", "from_base")
CHUNK = 500


async def finished_bookings(
    db: AsyncSession,
    now: datetime,
    *,
    grace: timedelta,
    recompute_since: datetime | None = None,
    booking_ids: Sequence[str] | None = None,
    attended_share: float = DEFAULT_ATTENDED_SHARE,
) -> list[str]:
    """Ids of bookings whose lesson is over: those without an outcome yet, and (for the
    nightly recompute) those that ended after ``recompute_since`` whose outcome's source
    changed since it was computed (see ``source_of``); recomputing the others would give
    the same rows."""
    over = Booking.ends_at <= now - grace
    query = select(Booking.id).outerjoin(OutcomeRow, OutcomeRow.booking_id == Booking.id)
    if booking_ids is not None:
        return list(await db.scalars(query.where(over, Booking.id.in_(booking_ids))))
    missing = list(
        await db.scalars(
            query.where(over, OutcomeRow.booking_id.is_(None)).order_by(Booking.ends_at)
        )
    )
    if recompute_since is None:
        return missing
    stale = await _stale(db, recompute_since, now - grace, attended_share)
    known = set(missing)
    return missing + [booking_id for booking_id in stale if booking_id not in known]


def source_of(
    booking: tuple[datetime, datetime, str, str | None],
    last_event: int,
    events: int,
    failed_move: str | None,
    share: float,
) -> str:
    """What an outcome was computed from, in short: the booking's times and status, how many
    events its timeline had and the last one's id (events are only ever added), the failed
    move and the attended share. The same source gives the same outcome."""
    starts, ends, status, reason = booking
    text = f"{int(starts.timestamp())}|{int(ends.timestamp())}|{status}|{reason or ''}"
    return f"{text}|{last_event}|{events}|{failed_move or ''}|{share:g}"[:200]


async def _stale(db: AsyncSession, since: datetime, until: datetime, share: float) -> list[str]:
    """Bookings that ended in ``[since, until]`` whose stored outcome was computed from another
    source than they have now (a late event, a cancellation, a move marked failed late)."""
    window = (Booking.ends_at >= since, Booking.ends_at <= until)
    query = (
        select(
            Booking.id,
            Booking.starts_at,
            Booking.ends_at,
            Booking.status,
            Booking.cancel_reason,
            OutcomeRow.source,
            func.max(SessionEvent.id),
            func.count(SessionEvent.id),
        )
        .join(OutcomeRow, OutcomeRow.booking_id == Booking.id)
        .outerjoin(LessonSession, LessonSession.booking_id == Booking.id)
        .outerjoin(SessionEvent, SessionEvent.session_id == LessonSession.id)
        .where(*window)
        .group_by(Booking.id, OutcomeRow.source)
        .order_by(Booking.ends_at)
    )
    moves = await _failed_moves(db, select(Booking.id).where(*window).scalar_subquery())
    return [
        booking_id
        for booking_id, starts, ends, status, reason, stored, last, count in (
            await db.execute(query)
        ).all()
        if stored
        != source_of((starts, ends, status, reason), last or 0, count, moves.get(booking_id), share)
    ]


async def compute_outcomes(
    db: AsyncSession, booking_ids: Sequence[str], now: datetime, *, attended_share: float
) -> int:
    """Compute and store the outcomes of these (finished) bookings; returns how many. The
    rollups of the pupils' and schools' weeks they were in and are in now are recomputed at
    the end, in the same transaction (``engagement.rollup``)."""
    done = 0
    pupils: set[str] = set()
    schools: set[str] = set()
    mondays: set[date] = set()
    for start in range(0, len(booking_ids), CHUNK):
        chunk = list(booking_ids[start : start + CHUNK])
        rows = await _outcome_rows(db, chunk, now, attended_share)
        if not rows:
            continue
        before = select(OutcomeRow.pupil_id, OutcomeRow.school_id, OutcomeRow.week_monday)
        for pupil, school, monday in (
            await db.execute(before.where(OutcomeRow.booking_id.in_(chunk)))
        ).all():
            pupils.add(pupil)
            schools.add(school)
            mondays.add(monday)
        for row in rows:
            pupils.add(row["pupil_id"])
            schools.add(row["school_id"])
            mondays.add(row["week_monday"])
        await _upsert(db, rows)
        done += len(rows)
    await refresh(db, pupils, schools, mondays)
    return done


async def _outcome_rows(
    db: AsyncSession, ids: list[str], now: datetime, share: float
) -> list[dict[str, Any]]:
    bookings = (
        await db.execute(
            select(Booking, Pupil.provider_id)
            .join(Pupil, Pupil.id == Booking.pupil_id)
            .where(Booking.id.in_(ids))
        )
    ).all()
    events = await _timelines(db, ids)
    moves = await _failed_moves(db, ids)
    rows = []
    for booking, provider_id in bookings:
        timeline = events.get(booking.id, [])
        source = source_of(
            (booking.starts_at, booking.ends_at, booking.status, booking.cancel_reason),
            max((e.seq for e in timeline), default=0),
            len(timeline),
            moves.get(booking.id),
            share,
        )
        facts = BookingFacts(
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            status=booking.status,
            cancel_reason=booking.cancel_reason,
            failed_move_id=moves.get(booking.id),
        )
        result = lesson_outcome(facts, timeline, attended_share=share)
        rows.append(_row(booking, provider_id, result, now) | {"source": source})
    return rows


async def _timelines(db: AsyncSession, ids: list[str]) -> dict[str, list[TimelineEvent]]:
    query = (
        select(
            LessonSession.booking_id,
            SessionEvent.id,
            SessionEvent.at,
            SessionEvent.kind,
            SessionEvent.participant,
            SessionEvent.data,
        )
        .join(SessionEvent, SessionEvent.session_id == LessonSession.id)
        .where(LessonSession.booking_id.in_(ids))
    )
    out: dict[str, list[TimelineEvent]] = defaultdict(list)
    for booking_id, seq, at, kind, participant, data in (await db.execute(query)).all():
        out[booking_id].append(TimelineEvent(at, kind, participant, data, seq))
    return out


async def _failed_moves(db: AsyncSession, ids: Any) -> dict[str, str]:
    """The first failed or escalated move to each of these lessons (ids or a subquery)."""
    query = (
        select(MoveRow.booking_id, func.min(MoveRow.id))
        .where(
            and_(
                MoveRow.booking_id.in_(ids),
                MoveRow.reason.in_(ARRIVING),
                MoveRow.status.in_(FAILED_MOVES),
            )
        )
        .group_by(MoveRow.booking_id)
    )
    return dict((await db.execute(query)).all())


def _row(
    booking: Booking, provider_id: str, result: LessonOutcome, now: datetime
) -> dict[str, Any]:
    usage = result.usage
    return {
        "booking_id": booking.id,
        "pupil_id": booking.pupil_id,
        "provider_id": provider_id,
        "school_id": booking.school_id,
        "device_id": booking.classroom_device_id,
        "subject": booking.subject,
        "lesson_date": booking.lesson_date,
        "week_monday": week_monday(booking.lesson_date),
        "starts_at": booking.starts_at,
        "booked_seconds": result.booked_seconds,
        "present_seconds": usage.present_seconds,
        "first_join": usage.first_join,
        "last_leave": usage.last_leave,
        "gaps": usage.gaps,
        "gap_seconds": usage.gap_seconds,
        "reconnects": usage.reconnects,
        "hands_raised": usage.hands_raised,
        "camera_seconds": usage.camera_seconds,
        "quality": usage.quality,
        "quality_samples": usage.quality_samples,
        "rtt_ms": usage.rtt_ms,
        "loss_pct": usage.loss_pct,
        "outcome": result.outcome.value,
        "reason": result.reason.value if result.reason else None,
        "move_id": result.move_id,
        "computed_at": now,
    }


async def _upsert(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Core ``executemany`` of the upsert (a prepared statement, no ORM bookkeeping) and one
    ``UPDATE ... FROM`` of the bookings per chunk."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(OutcomeRow.__table__)
    keep = {c: insert.excluded[c] for c in rows[0] if c != "booking_id"}
    await db.execute(insert.on_conflict_do_update(index_elements=["booking_id"], set_=keep), rows)
    await db.execute(
        update(Booking)
        .where(
            Booking.id == OutcomeRow.booking_id,
            Booking.id.in_([row["booking_id"] for row in rows]),
            Booking.outcome.is_distinct_from(OutcomeRow.outcome),
        )
        .values(outcome=OutcomeRow.outcome)
        .execution_options(synchronize_session=False)
    )
