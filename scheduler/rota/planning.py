"""Planning one school day: bookings → moves → assignment → ``rota_moves`` rows.

``plan_day`` is the one use case every trigger goes through (a booking
event, an absence, a device in maintenance, a manual pin, the first look at a
day). It re-derives the day's moves and re-plans with ``assignment.replan``,
so moves whose id (content) did not change keep their assistant (on the
school's today with each robot's latest battery reading, projected from
now; charge trips already planned stay unless the battery clearly lasts);
``done``
and ``failed`` moves are history and never touched; a move already under
way (its assistant should have set off) is left as it is; open moves the
day no longer needs are deleted. Every change to someone's rota is written
to ``rota_changes`` for their "what changed" list and for notifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.rota.domain.assignment import assign, replan
from scheduler.rota.domain.declines import respect_declines
from scheduler.rota.domain.moves import (
    Assignment,
    BatteryWarning,
    Move,
    Pin,
    Plan,
    RotaError,
    derive,
)
from scheduler.rota.loading import DayInputs, load_day, school_zone, without_overlaps
from scheduler.rota.models import OPEN_STATUSES, MoveRow, RotaChangeRow, RotaDeclineRow
from telepresence.platform.errors import NotFound
from telepresence.platform.models import School

__all__ = [
    "DayOutcome",
    "derive_day",
    "describe",
    "load_declines",
    "lock_school",
    "note_change",
    "plan_day",
    "planned_charges",
    "rota_topic",
]

log = structlog.get_logger("classbridge.rota")


def rota_topic(school_id: str) -> str:
    """The event topic of one school's rota (pages listen to it)."""
    return f"rota:{school_id}"


@dataclass
class DayOutcome:
    """What a re-plan changed: assistants to tell, moves nobody can do."""

    school_id: str
    day: date
    changed_assistants: set[str] = field(default_factory=set)
    unassignable: list[MoveRow] = field(default_factory=list)
    battery_warnings: list[BatteryWarning] = field(default_factory=list)
    added: int = 0
    removed: int = 0

    def event(self) -> dict[str, object]:
        """The rota event pages receive (ids only: pages re-read what they show)."""
        return {
            "kind": "replanned",
            "date": self.day.isoformat(),
            "assistants": sorted(self.changed_assistants),
            "unassigned": [row.id for row in self.unassignable],
        }


async def lock_school(session: AsyncSession, school_id: str) -> School:
    """The school, its row held until the transaction ends (one re-plan at a time)."""
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks; a no-op UPDATE takes the database's write lock now.
        await session.execute(update(School).where(School.id == school_id).values(name=School.name))
        school = await session.get(School, school_id)
    else:
        school = await session.scalar(
            select(School).where(School.id == school_id).with_for_update()
        )
    if school is None:
        raise NotFound(f"There is no school {school_id!r}.")
    return school


def derive_day(inputs: DayInputs, warnings: list[BatteryWarning] | None = None) -> list[Move]:
    """Every rota device's moves of the day, in device then time order.

    Lessons a robot's battery will not last, with no gap to charge before them,
    are added to ``warnings`` when it is given.
    """
    moves: list[Move] = []
    for device_id, lessons in sorted(inputs.lessons.items()):
        try:
            derivation = derive(inputs.device_day(device_id), without_overlaps(lessons))
        except RotaError as exc:  # a booking the rota cannot use: say so, plan the rest
            log.warning("rota.derive_failed", device_id=device_id, reason=str(exc))
            continue
        moves += derivation.moves
        if warnings is not None:
            warnings.extend(derivation.warnings)
        for warning in derivation.warnings:
            log.warning(
                "rota.battery_will_not_last",
                device_id=device_id,
                booking_id=warning.booking_id,
                projected_pct=round(warning.projected_pct, 1),
            )
    return moves


def planned_charges(rows: Iterable[MoveRow]) -> dict[str, frozenset[str]]:
    """Per device, the lessons after which a charge trip is planned or was done."""
    found: dict[str, set[str]] = {}
    for row in rows:
        if row.reason == "charge" and (row.status in OPEN_STATUSES or row.status == "done"):
            found.setdefault(row.device_id, set()).add(row.booking_id)
    return {device_id: frozenset(ids) for device_id, ids in found.items()}


async def plan_day(session: AsyncSession, school_id: str, day: date, now: datetime) -> DayOutcome:
    """Re-plan the school's ``day`` (local date) in the caller's transaction.

    Raises ``NotFound`` for an unknown school. Access checks are the caller's.
    """
    school = await lock_school(session, school_id)
    inputs = await load_day(session, school, day)
    rows = {
        r.id: r
        for r in await session.scalars(
            select(MoveRow).where(MoveRow.school_id == school.id, MoveRow.local_date == day)
        )
    }
    inputs.now, inputs.charge_after = now, planned_charges(rows.values())
    warnings: list[BatteryWarning] = []
    derived = {m.id: m for m in derive_day(inputs, warnings)}
    outcome = DayOutcome(school.id, day, battery_warnings=warnings)
    to_plan = [m for mid, m in derived.items() if mid not in rows or not _settled(rows[mid], now)]
    # A pin is for someone who is in: one for an assistant now away (off sick) or gone
    # goes, and the move is planned like any other.
    present = {a.id for a in inputs.assistants if not a.absent}
    for r in rows.values():
        if r.pinned and r.status in OPEN_STATUSES and r.assistant_id not in present:
            r.pinned = False
    pins = [
        Pin(r.id, r.assistant_id)
        for r in rows.values()
        if r.pinned and r.assistant_id and r.id in derived and r.status in OPEN_STATUSES
    ]
    stands = [
        Assignment(derived[r.id], r.assistant_id)
        for r in rows.values()
        if r.id in derived and r.assistant_id and r.status in OPEN_STATUSES
    ]

    def solve(extra: list[Pin], dropped: frozenset[str]) -> Plan:
        moves = [m for m in to_plan if m.id not in dropped]
        standing = tuple(a for a in stands if a.move.id not in dropped)
        if standing:
            previous = Plan(standing, ())
            return replan(
                previous, moves, inputs.assistants, inputs.walking, [*pins, *extra], now=now
            )
        return assign(moves, inputs.assistants, inputs.walking, [*pins, *extra], now=now)

    # A hand pin to someone who said "Can't do it" is staff having sorted it out with them.
    overruled = {pin.move_id: pin.assistant_id for pin in pins}
    declined = {
        move_id: users - {overruled.get(move_id, "")}
        for move_id, users in (await load_declines(session, list(rows))).items()
    }
    plan = respect_declines(solve([], frozenset()), declined, solve)
    for assignment in plan.assignments:
        _apply(session, inputs, rows, assignment, now, outcome)
    zone = school_zone(school)
    for row in list(rows.values()):
        if row.id not in derived and row.status in OPEN_STATUSES:
            # The move goes, so the note names its robot itself (pages name the others').
            device = inputs.devices.get(row.device_id) or await session.get(Device, row.device_id)
            name = device.name.replace("{", "{{").replace("}", "}}") if device else ""
            robot = f"{name}, " if name else ""
            _note(session, row, row.assistant_id, now, f"no longer needed: {robot}{{what}}", zone)
            if row.assistant_id:
                outcome.changed_assistants.add(row.assistant_id)
            outcome.removed += 1
            await session.delete(row)
    await session.flush()
    return outcome


async def load_declines(session: AsyncSession, move_ids: list[str]) -> dict[str, frozenset[str]]:
    """Who said they cannot do each of these moves."""
    found: dict[str, set[str]] = {}
    if move_ids:
        for move_id, user_id in await session.execute(
            select(RotaDeclineRow.move_id, RotaDeclineRow.user_id).where(
                RotaDeclineRow.move_id.in_(move_ids)
            )
        ):
            found.setdefault(move_id, set()).add(user_id)
    return {move_id: frozenset(users) for move_id, users in found.items()}


def _settled(row: MoveRow, now: datetime) -> bool:
    """History, or under way: its assistant should already have set off."""
    if row.status not in OPEN_STATUSES:
        return True
    return row.assistant_id is not None and row.departs_at is not None and row.departs_at <= now


def _apply(
    session: AsyncSession,
    inputs: DayInputs,
    rows: dict[str, MoveRow],
    assignment: Assignment,
    now: datetime,
    outcome: DayOutcome,
) -> None:
    move, zone = assignment.move, school_zone(inputs.school)
    row = rows.get(move.id)
    is_new = row is None
    if row is None:
        row = _new_row(inputs, move, now)
        session.add(row)
        rows[move.id] = row
        outcome.added += 1
    before = row.assistant_id
    flagged_before = not is_new and before is None and row.status_reason is not None
    row.assistant_id = assignment.assistant_id
    row.departs_at, row.done_by_plan = assignment.departs_at, assignment.done_at
    if row.status != "escalated":
        row.status = "assigned" if assignment.assistant_id else "pending"
    row.status_reason = assignment.reason  # e.g. the pinned assistant cannot do it
    # A pin that cannot be done is flagged (the reason, an alert) and goes: the row no
    # longer says whom it was for, and the next plan treats the move like any other.
    row.pinned = row.pinned and assignment.assistant_id is not None
    if before != row.assistant_id:
        row.version += 1
        row.updated_at = now
        if before:
            _note(session, row, before, now, "no longer yours: {what}", zone)
            outcome.changed_assistants.add(before)
        if row.assistant_id:
            _note(session, row, row.assistant_id, now, "new for you: {what}", zone)
            outcome.changed_assistants.add(row.assistant_id)
    if row.assistant_id is None and not flagged_before:
        outcome.unassignable.append(row)


def _new_row(inputs: DayInputs, move: Move, now: datetime) -> MoveRow:
    return MoveRow(
        id=move.id,
        school_id=inputs.school.id,
        local_date=inputs.day,
        device_id=move.device_id,
        booking_id=move.booking_id,
        pupil_id=inputs.pupil_of_booking.get(move.booking_id),
        reason=move.reason,
        from_room_id=move.from_room.id,
        from_room_name=inputs.rooms.name(move.from_room.id),
        to_room_id=move.to_room.id,
        to_room_name=inputs.rooms.name(move.to_room.id),
        earliest=move.earliest,
        due=move.latest,
        pinned=False,
        status="pending",
        version=1,
        created_at=now,
        updated_at=now,
    )


def describe(row: MoveRow, zone: ZoneInfo) -> str:
    """A move in a few words, for change notes: "S12 → Lab 3 by 10:05" (school time)."""
    return f"{row.from_room_name} → {row.to_room_name} by {row.due.astimezone(zone):%H:%M}"


def _note(
    session: AsyncSession,
    row: MoveRow,
    assistant_id: str | None,
    now: datetime,
    text: str,
    zone: ZoneInfo,
) -> None:
    session.add(
        RotaChangeRow(
            school_id=row.school_id,
            local_date=row.local_date,
            assistant_id=assistant_id,
            move_id=row.id,
            at=now,
            text=text.format(what=describe(row, zone))[:300],
        )
    )


def note_change(
    session: AsyncSession,
    row: MoveRow,
    assistant_ids: Sequence[str | None],
    now: datetime,
    text: str,
    zone: ZoneInfo,
) -> None:
    """Record a change of ``row`` for each of ``assistant_ids`` (``{what}`` names the move)."""
    for assistant_id in dict.fromkeys(assistant_ids):
        _note(session, row, assistant_id, now, text, zone)
