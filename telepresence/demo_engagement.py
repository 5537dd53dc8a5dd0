"""The engagement part of ``classbridge demo``: four past school weeks of lessons.

So that the coordinator's dashboard has something to show, the demo invents a
history for the pupils who have a robot: bookings of some of their timetabled
lessons on the last twenty school days, session timelines (joins, gaps and
reconnects, hands raised, camera, connection quality), the moves that took
the robot to each lesson, and then, through engagement's own code, each
lesson's outcome and the alerts the daily rules open. Sam, Maya and Oliver
take part well; Leo drifts (he joins less and less, and twice his robot was
not moved), so he has open alerts: the daily rules' and, for the robot not moved,
the operational alert the rota's hook opens (the first one already resolved).

Clearly made up: every row's id starts with ``demo``, session events carry
``"demo": true`` and the alerts' note says so. Written in bulk (a few
``INSERT``s), once: a database that has demo history is left as it is.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.bookings.models import Booking
from scheduler.rota.models import MoveRow
from scheduler.timetables import repository as timetables
from scheduler.timetables.occurrences import Occurrence, expand
from telepresence.engagement.disengagement import alerts
from telepresence.engagement.disengagement.rules import RuleSettings, evaluate
from telepresence.engagement.disengagement.signals import gather_signals
from telepresence.engagement.domain import DEFAULT_ATTENDED_SHARE
from telepresence.engagement.models import AlertRow
from telepresence.engagement.operational.rules import OpsRule
from telepresence.engagement.operational.store import move_draft, move_link, open_alert
from telepresence.engagement.outcomes import compute_outcomes
from telepresence.platform.database import Database
from telepresence.platform.models import Pupil, Room, School, User
from telepresence.platform.security.identity import Principal, Role
from telepresence.sessions.models import LessonSession, SessionEvent

__all__ = ["HISTORY_SCHOOL_DAYS", "PROFILES", "seed_engagement_history"]

HISTORY_SCHOOL_DAYS = 20
LESSONS_A_DAY = 3
DEMO_NOTE = "Demo data: made up by `classbridge demo` so the dashboard has something to show."
RESOLVED_NOTE = "The school found the key; the robot went to the next lesson in time (demo)."


@dataclass(frozen=True)
class Profile:
    """How a demo pupil takes part, week by week (oldest first): the chance of attending
    a lesson in full, of joining part of it, and what else befalls them."""

    robot_serial: str
    attend: tuple[float, float, float, float]
    partial: float = 0.08
    cancel_reason: str | None = None
    cancel_every: int = 0  # cancel every n-th lesson (0: never)
    missed_at_the_end: int = 0  # the last n booked lessons never joined
    not_moved: int = 0  # of the missed ones in the last fortnight, this many: robot not moved


PROFILES = {
    "SAMK42": Profile("OAK-AV1-0001", (0.92, 0.9, 0.95, 0.9)),
    "MAYC26": Profile("STA-AV1-0003", (0.85, 0.9, 0.85, 0.88), cancel_reason="too unwell today",
                      cancel_every=23),
    "OLIO94": Profile("STA-AV1-0004", (0.7, 0.75, 0.72, 0.78), partial=0.15,
                      cancel_reason="dialysis moved to the morning", cancel_every=17),
    "LEOM59": Profile("OAK-AV1-0002", (0.9, 0.85, 0.35, 0.15), partial=0.2, missed_at_the_end=4,
                      not_moved=2),
}  # fmt: skip


def demo_id(*parts: object) -> str:
    """A stable 32-character id starting with ``demo`` (so a second run finds the same rows)."""
    return "demo" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:28]


async def seed_engagement_history(database: Database, now: datetime) -> None:
    """Seed the past four school weeks once (see the module's docstring); ``now`` aware UTC."""
    async with database.transaction() as db:
        seeded = await db.scalar(select(Booking.id).where(Booking.id.like("demo%")).limit(1))
        rows = _Rows()
        if not seeded:
            for code, profile in PROFILES.items():
                await _pupil_history(db, rows, code, profile, now)
        if rows.bookings:
            await rows.write(db)
            await compute_outcomes(
                db, [b["id"] for b in rows.bookings], now, attended_share=DEFAULT_ATTENDED_SHARE
            )
    if rows.bookings:
        await _open_alerts(database, now)
    await _moves_not_done(database)  # also into a demo database seeded before there were any


class _Rows:
    """Rows to insert, by table, in bulk."""

    def __init__(self) -> None:
        self.bookings: list[dict[str, Any]] = []
        self.sessions: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.moves: list[dict[str, Any]] = []

    async def write(self, db: AsyncSession) -> None:
        for table, rows in (
            (Booking, self.bookings),
            (LessonSession, self.sessions),
            (SessionEvent, self.events),
            (MoveRow, self.moves),
        ):
            if rows:
                await db.execute(insert(table), rows)


async def _pupil_history(
    db: AsyncSession, rows: _Rows, code: str, profile: Profile, now: datetime
) -> None:
    pupil = await db.scalar(select(Pupil).where(Pupil.pupil_code == code))
    robot = await db.scalar(select(Device).where(Device.serial == profile.robot_serial))
    school = await db.get(School, pupil.school_id) if pupil else None
    if pupil is None or robot is None or school is None:
        return
    calendar = await timetables.load_calendar(db, school)
    stored = await timetables.load_lessons(db, pupil.id)
    lessons = {row.key: timetables.lesson_from_row(row) for row in stored}
    today = now.astimezone(calendar.zone).date()
    days = _school_days_before(calendar.is_school_day, today)
    if not lessons or not days:
        return
    rooms = {r.name: r for r in await db.scalars(select(Room).where(Room.school_id == school.id))}
    base = next((r for r in rooms.values() if r.id == robot.charging_base_room_id), None)
    assistant = await db.scalar(
        select(User.id).where(User.role == "assistant", User.school_id == school.id)
    )
    staff = pupil.key_worker_id or ""
    chosen = _chosen(expand(lessons.values(), calendar, days[0], days[-1]))
    rng = random.Random(code)  # noqa: S311 - made-up demo figures, repeatable
    fortnight = days[-10] if len(days) >= 10 else days[0]
    not_moved = profile.not_moved
    for n, occ in enumerate(chosen):
        week = min(3, days.index(occ.date) * 4 // len(days))
        lesson = lessons[occ.lesson_key]
        booking_id = demo_id("booking", code, occ.lesson_key, occ.date)
        every = profile.cancel_every
        cancelled = bool(every) and n % every == every - 1
        rows.bookings.append(
            {
                "id": booking_id,
                "pupil_id": pupil.id,
                "school_id": school.id,
                "lesson_key": occ.lesson_key,
                "lesson_date": occ.date,
                "starts_at": occ.start,
                "ends_at": occ.end,
                "subject": lesson.subject,
                "room": lesson.room,
                "classroom_device_id": robot.id,
                "pupil_device_id": None,
                "status": "cancelled" if cancelled else "booked",
                "cancel_reason": profile.cancel_reason if cancelled else None,
                "cancelled_at": occ.start - timedelta(hours=2) if cancelled else None,
                "cancelled_by": staff if cancelled else None,
                "created_at": occ.start - timedelta(days=7),
                "created_by": staff,
            }
        )
        if cancelled:
            continue
        missed_at_end = n >= len(chosen) - profile.missed_at_the_end
        roll = rng.random()
        if missed_at_end or roll >= profile.attend[week] + profile.partial:
            stuck = not_moved > 0 and occ.date >= fortnight
            not_moved -= int(stuck)
            move = "failed" if stuck else "done"
            present: list[tuple[int, int]] = []
        else:
            move = "late" if rng.random() < 0.12 else "done"
            present = _presence(rng, occ, partial=roll >= profile.attend[week])
        room = rooms.get(lesson.room)
        if base is not None and room is not None:
            rows.moves.append(_move(booking_id, occ, pupil, robot, base, room, assistant, move))
        if present:
            _session(rows, rng, booking_id, pupil.id, robot.id, occ, present)


def _school_days_before(is_school_day: Callable[[date], bool], today: date) -> list[date]:
    """The last ``HISTORY_SCHOOL_DAYS`` school days before ``today`` (within 15 weeks)."""
    days: list[date] = []
    day = today - timedelta(days=1)
    while len(days) < HISTORY_SCHOOL_DAYS and (today - day).days <= 105:
        if is_school_day(day):
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def _chosen(occurrences: Sequence[Occurrence]) -> list[Occurrence]:
    """A few lessons a day (the ones staff booked): every other one, at most three."""
    by_day: dict[date, list[Occurrence]] = {}
    for occ in occurrences:
        by_day.setdefault(occ.date, []).append(occ)
    return [occ for day in sorted(by_day) for occ in by_day[day][::2][:LESSONS_A_DAY]]


def _presence(rng: random.Random, occ: Occurrence, *, partial: bool) -> list[tuple[int, int]]:
    """Connected stretches in minutes from the lesson's start."""
    length = int((occ.end - occ.start).total_seconds() // 60)
    if partial:
        joined = rng.randint(8, 20)
        return [(joined, joined + rng.randint(12, max(13, length // 2 - 5)))]
    joined, left = rng.randint(0, 3), length - rng.randint(0, 2)
    if rng.random() < 0.25:  # the ward's wifi dropped for a few minutes
        gap = rng.randint(15, length - 15)
        return [(joined, gap), (gap + rng.randint(1, 4), left)]
    return [(joined, left)]


def _session(
    rows: _Rows,
    rng: random.Random,
    booking_id: str,
    pupil_id: str,
    robot_id: str,
    occ: Occurrence,
    present: list[tuple[int, int]],
) -> None:
    session_id = demo_id("session", booking_id)
    rows.sessions.append(
        {
            "id": session_id,
            "booking_id": booking_id,
            "pupil_id": pupil_id,
            "robot_id": robot_id,
            "mode": "direct",
            "status": "ended",
            "opens_at": occ.start - timedelta(minutes=5),
            "closes_at": occ.end + timedelta(minutes=5),
            "created_at": occ.start - timedelta(minutes=5),
            "ended_at": occ.end + timedelta(minutes=5),
            "end_reason": "lesson over",
        }
    )

    def add(minute: float, kind: str, who: str | None, **data: object) -> None:
        rows.events.append(
            {
                "session_id": session_id,
                "at": occ.start + timedelta(minutes=minute),
                "participant": who,
                "kind": kind,
                "data": {"demo": True, **data},
            }
        )

    add(-4, "joined", "robot")
    for i, (a, b) in enumerate(present):
        add(a, "joined" if i == 0 else "reconnected", "pupil")
        if i == 0:
            add(a + 0.5, "camera", "pupil", on=rng.random() < 0.6)
        for _ in range(rng.randint(0, 2)):
            add(rng.uniform(a, b), "control", "pupil", control="raise_hand")
        for minute in range(a + 5, b, 15):
            add(minute, "quality", "pupil", rtt_ms=rng.randint(40, 220),
                loss_pct=round(rng.uniform(0, 2.5), 1))  # fmt: skip
        add(b, "left", "pupil")
    add((occ.end - occ.start).total_seconds() / 60 + 5, "ended", None)


def _move(
    booking_id: str,
    occ: Occurrence,
    pupil: Pupil,
    robot: Device,
    base: Room,
    room: Room,
    assistant: str | None,
    how: str,
) -> dict[str, Any]:
    due = occ.start - timedelta(minutes=2)
    confirmed = {"done": due - timedelta(minutes=6), "late": due + timedelta(minutes=4)}.get(how)
    return {
        "id": demo_id("move", booking_id),
        "school_id": robot.school_id,
        "local_date": occ.date,
        "device_id": robot.id,
        "booking_id": booking_id,
        "pupil_id": pupil.id,
        "reason": "to_lesson",
        "from_room_id": base.id,
        "from_room_name": base.name,
        "to_room_id": room.id,
        "to_room_name": room.name,
        "earliest": occ.start - timedelta(minutes=40),
        "due": due,
        "assistant_id": assistant,
        "status": "failed" if how == "failed" else "done",
        "status_reason": "Room locked, no key (demo)" if how == "failed" else None,
        "confirmed_at": confirmed,
        "confirmed_by": assistant if confirmed else None,
        "created_at": occ.start - timedelta(days=1),
        "updated_at": confirmed or due,
    }


async def _open_alerts(database: Database, now: datetime) -> None:
    """What the nightly rules make of the history: alerts for Leo, marked as demo data."""
    async with database.transaction() as db:
        providers = set(
            await db.scalars(select(Pupil.provider_id).where(Pupil.pupil_code.in_(list(PROFILES))))
        )
        for provider_id in providers:
            signals = await gather_signals(db, provider_id, now.date())
            drafts = {s.pupil_id: evaluate(s, RuleSettings()) for s in signals}
            opened = await alerts.apply_drafts(
                db, provider_id, drafts, now, evaluated=[s.pupil_id for s in signals]
            )
            for item in opened:
                item.alert.note = DEMO_NOTE


async def _moves_not_done(database: Database) -> None:
    """The operational alerts of the history: twice nobody could move Leo's robot to his
    lesson. The rota's ``failed`` hook opened an alert each time (through the same
    ``open_alert``, at the time the move failed); his key worker resolved the first one the
    same day, the latest is still open. Once per move: a move that ever had an alert is
    left alone."""
    async with database.transaction() as db:
        moves = list(
            await db.scalars(
                select(MoveRow)
                .where(MoveRow.id.like("demo%"), MoveRow.status == "failed")
                .order_by(MoveRow.due)
            )
        )
        known = set(
            await db.scalars(
                select(AlertRow.subject_key).where(
                    AlertRow.rule == OpsRule.MOVE_NOT_DONE.value,
                    AlertRow.subject_key.in_([f"move:{m.id}" for m in moves]),
                )
            )
        )
        for n, move in enumerate(moves):
            draft = await move_draft(db, move)
            if f"move:{move.id}" in known or move.pupil_id is None or draft is None:
                continue
            opened = await open_alert(db, move.pupil_id, draft, move.due, link=move_link(move))
            if opened is None:
                continue
            opened.note = DEMO_NOTE
            pupil = await db.get(Pupil, move.pupil_id)
            worker = (
                await db.get(User, pupil.key_worker_id) if pupil and pupil.key_worker_id else None
            )
            if n < len(moves) - 1 and worker is not None:
                await db.flush()
                who = Principal(Role(worker.role), worker.id, worker.name, worker.provider_id)
                await alerts.resolve(
                    db, who, opened.id, RESOLVED_NOTE, move.due + timedelta(hours=3)
                )
