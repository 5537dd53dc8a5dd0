"""Past lessons with session timelines, for the engagement tests: small factory functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from factories import Org

from scheduler.bookings.models import Booking
from scheduler.rota.models import MoveRow
from telepresence.platform.database import Database, new_id
from telepresence.sessions.models import LessonSession, SessionEvent


def past_weekdays(n: int, before: date | None = None) -> list[date]:
    """The ``n`` weekdays before ``before`` (default today), oldest first."""
    day, out = (before or datetime.now(UTC).date()) - timedelta(days=1), list[date]()
    while len(out) < n:
        if day.weekday() < 5:
            out.append(day)
        day -= timedelta(days=1)
    return sorted(out)


async def past_lesson(
    database: Database,
    org: Org,
    robot_id: str,
    day: date,
    *,
    present: list[tuple[int, int]] = (),  # type: ignore[assignment]
    minutes: int = 60,
    subject: str = "Maths",
    status: str = "booked",
    cancel_reason: str | None = None,
    failed_move: bool = False,
    pupil_id: str | None = None,
    hour: int = 10,
) -> str:
    """A lesson at ``hour``:00 UTC on ``day``; the pupil was connected for each (from, to) span
    of minutes."""
    start = datetime.combine(day, time(hour), tzinfo=UTC)
    async with database.transaction() as db:
        booking = Booking(
            pupil_id=pupil_id or org.pupil.id,
            school_id=org.school_id,
            lesson_key=f"k-{new_id()[:12]}",
            lesson_date=day,
            starts_at=start,
            ends_at=start + timedelta(minutes=minutes),
            subject=subject,
            room="S12",
            classroom_device_id=robot_id,
            status=status,
            cancel_reason=cancel_reason,
            created_at=start - timedelta(days=7),
            created_by=org.users["hospital_staff"].id,
        )
        db.add(booking)
        await db.flush()
        if failed_move:
            db.add(_move(org, booking, robot_id, start))
        if present:
            session = LessonSession(
                booking_id=booking.id,
                pupil_id=booking.pupil_id,
                robot_id=robot_id,
                status="ended",
                opens_at=start - timedelta(minutes=5),
                closes_at=booking.ends_at + timedelta(minutes=5),
                created_at=start - timedelta(minutes=5),
                ended_at=booking.ends_at + timedelta(minutes=5),
            )
            db.add(session)
            await db.flush()
            for first, (a, b) in enumerate(present):
                kind = "joined" if first == 0 else "reconnected"
                db.add(event(session.id, start + timedelta(minutes=a), kind))
                db.add(event(session.id, start + timedelta(minutes=b), "left"))
        return booking.id


def event(session_id: str, at: datetime, kind: str, who: str | None = "pupil") -> SessionEvent:
    return SessionEvent(session_id=session_id, at=at, participant=who, kind=kind, data={})


def _move(org: Org, booking: Booking, robot_id: str, start: datetime) -> MoveRow:
    return MoveRow(
        id=f"mv-{new_id()[:20]}",
        school_id=org.school_id,
        local_date=booking.lesson_date,
        device_id=robot_id,
        booking_id=booking.id,
        pupil_id=booking.pupil_id,
        reason="to_lesson",
        from_room_id="base",
        from_room_name="Base",
        to_room_id="s12",
        to_room_name="S12",
        earliest=start - timedelta(minutes=30),
        due=start,
        status="failed",
        status_reason="door locked",
        created_at=start - timedelta(days=1),
        updated_at=start,
    )


async def rollup_differences(database: Database) -> list[tuple[str, object]]:
    """Rows where the rollups (``engagement.rollup``) differ from the ``GROUP BY`` of the
    outcomes they stand for: empty when they are consistent."""
    from sqlalchemy import select

    from telepresence.engagement.rollup import ROLLUPS

    out: list[tuple[str, object]] = []
    async with database.sessions() as db:
        for rollup in ROLLUPS:
            names = rollup.names()
            kept = {tuple(r) for r in await db.execute(select(*[rollup.table.c[n] for n in names]))}
            truth = {tuple(r) for r in await db.execute(rollup.select())}
            out += [(f"{rollup.table.name} has", row) for row in sorted(kept - truth, key=str)]
            out += [(f"{rollup.table.name} lacks", row) for row in sorted(truth - kept, key=str)]
    return out


def week_shares(weeks):
    """``with_trend``'s weeks as ``Breakdown.weeks`` holds them: pupil -> monday -> (share,
    trend), oldest first."""
    out: dict[str, dict[date, tuple[float | None, float | None]]] = {}
    for c in sorted(weeks, key=lambda c: c.key):
        out.setdefault(c.key[0], {})[c.key[1]] = (c.share, c.trend)
    return out
