"""Use cases of the move rota: confirm, can't do, pin by hand, re-plan on a change.

Every function takes an ``AsyncSession`` inside the caller's transaction, the
caller (``who``) and the time (``now``, aware UTC). After the commit the
caller hands the ``DayOutcome``s to ``announce`` (rota events for pages, and
the alert hooks for the people to tell).

Telemetry that contradicts a "Done" (the robot later reports another room)
is flagged by ``check_reported_room``, which the device registry's telemetry
path calls; a device put into maintenance is re-planned by
``replan_device``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.bookings.models import Booking
from scheduler.rota.domain.declines import NOBODY_ELSE
from scheduler.rota.domain.moves import BatteryWarning
from scheduler.rota.domain.wording import UNDO_WITHIN, undo_open
from scheduler.rota.loading import absent_ids, school_zone
from scheduler.rota.models import OPEN_STATUSES, MoveRow, RotaDeclineRow
from scheduler.rota.planning import DayOutcome, note_change, plan_day, rota_topic
from telepresence.platform.errors import Conflict, InvalidInput, NotFound
from telepresence.platform.events.events import EventHub
from telepresence.platform.models import School, User
from telepresence.platform.security.identity import Principal, Role
from telepresence.platform.security.permissions import check_may_change

__all__ = [
    "LoggedRotaAlerts",
    "RotaAlerts",
    "announce",
    "cant_do",
    "check_reported_room",
    "confirm_done",
    "devices_with_done_moves",
    "pin_move",
    "replan_ahead",
    "replan_days",
    "replan_device",
    "undo_done",
    "visible_move",
    "visible_school",
]

log = structlog.get_logger("classbridge.rota")
REPLAN_HORIZON_DAYS = 14


class RotaAlerts(Protocol):
    """Who to tell what: the notifications package implements it; the default only logs."""

    async def unassignable(self, school_id: str, move_ids: Sequence[str]) -> None:
        """Moves nobody can do: the school's contact and the pupils' hospital staff."""
        ...

    async def failed(self, school_id: str, move_id: str, reason: str) -> None:
        """An assistant could not do a move (escalate to the same people)."""
        ...

    async def rota_changed(self, school_id: str, assistant_ids: Sequence[str]) -> None:
        """These assistants' rotas changed (tell them; their page lists what)."""
        ...

    async def battery_low(self, school_id: str, warnings: Sequence[BatteryWarning]) -> None:
        """Lessons a robot will not last and no charge trip fits before: the same people."""
        ...


class LoggedRotaAlerts:
    """Until notifications are wired in: a log line per alert, nothing sent."""

    async def unassignable(self, school_id: str, move_ids: Sequence[str]) -> None:
        """Log the moves nobody can do."""
        log.warning("rota.unassignable", school_id=school_id, moves=list(move_ids))

    async def failed(self, school_id: str, move_id: str, reason: str) -> None:
        """Log the failure."""
        log.warning("rota.move_failed", school_id=school_id, move_id=move_id, reason=reason)

    async def rota_changed(self, school_id: str, assistant_ids: Sequence[str]) -> None:
        """Log whose rota changed."""
        log.info("rota.changed", school_id=school_id, assistants=list(assistant_ids))

    async def battery_low(self, school_id: str, warnings: Sequence[BatteryWarning]) -> None:
        """Log the lessons at risk."""
        lessons = [w.booking_id for w in warnings]
        log.warning("rota.battery_low", school_id=school_id, lessons=lessons)


async def announce(hub: EventHub, alerts: RotaAlerts, outcomes: Iterable[DayOutcome]) -> None:
    """After the commit: publish each re-plan on ``rota:{school}`` and raise its alerts."""
    for outcome in outcomes:
        hub.publish(rota_topic(outcome.school_id), outcome.event())
        if outcome.unassignable:
            await alerts.unassignable(outcome.school_id, [r.id for r in outcome.unassignable])
        if outcome.changed_assistants:
            await alerts.rota_changed(outcome.school_id, sorted(outcome.changed_assistants))
        if outcome.battery_warnings:
            await alerts.battery_low(outcome.school_id, outcome.battery_warnings)


async def visible_school(session: AsyncSession, who: Principal, school_id: str) -> School:
    """A school the caller may see the rota of: staff of its provider, its own assistants.

    Raises ``NotFound`` otherwise, so other schools' ids leak nothing.
    """
    school = await session.get(School, school_id)
    if school is None or school.provider_id != who.provider_id:
        raise NotFound(f"There is no school {school_id!r}.")
    if who.role is Role.ASSISTANT and who.school_id != school.id:
        raise NotFound(f"There is no school {school_id!r}.")
    if not who.is_staff and who.role is not Role.ASSISTANT:
        raise NotFound(f"There is no school {school_id!r}.")
    return school


async def visible_move(session: AsyncSession, who: Principal, move_id: str) -> MoveRow:
    """A move of a school the caller may see; ``NotFound`` otherwise."""
    row = await session.get(MoveRow, move_id, with_for_update=_locks(session))
    if row is None:
        raise NotFound(f"There is no move {move_id!r}.")
    try:
        await visible_school(session, who, row.school_id)
    except NotFound:
        raise NotFound(f"There is no move {move_id!r}.") from None
    return row


def _locks(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name != "sqlite"


async def _check_actor(
    session: AsyncSession, who: Principal, row: MoveRow, version: int | None
) -> None:
    """An assistant acts only on their own move, as they last saw it; staff on any move."""
    if who.role is Role.ASSISTANT and row.assistant_id != who.subject_id:
        owner = await session.get(User, row.assistant_id) if row.assistant_id else None
        if version is not None and version != row.version:
            whom = f"to {owner.name}" if owner else "away: nobody has it now"
            raise Conflict(f"This move was reassigned {whom} since you loaded it; nothing changed.")
        whom = f"{owner.name}'s" if owner else "nobody's yet"
        raise Conflict(f"This move is {whom}, not yours; nothing changed.")
    if version is not None and version != row.version:
        raise Conflict(
            f"This move changed since you loaded it (version {row.version}, you had "
            f"{version}); reload and try again."
        )


async def confirm_done(
    session: AsyncSession, who: Principal, move_id: str, version: int | None, now: datetime
) -> tuple[MoveRow, bool]:
    """Mark a move done and put the device in its room; ``(move, whether it changed)``.

    Confirming again what the same person already confirmed changes nothing
    and is no error. Raises ``Conflict`` for someone else's move, a move
    reassigned since ``version``, a failed move or one done by someone else.
    """
    row = await visible_move(session, who, move_id)
    if row.status == "done":
        if row.confirmed_by == who.subject_id or who.is_staff:
            return row, False
        raise Conflict("Someone else already confirmed this move; nothing changed.")
    if row.status == "failed":
        raise Conflict(f"This move was reported as not possible ({row.status_reason}).")
    await _check_actor(session, who, row, version)
    row.status, row.status_reason = "done", None
    row.confirmed_at, row.confirmed_by = now, who.subject_id
    row.version += 1
    row.updated_at = now
    device = await session.get(Device, row.device_id)
    if device is not None and not row.to_room_id.startswith("?"):
        device.last_known_room_id = row.to_room_id
    return row, True


async def undo_done(
    session: AsyncSession, who: Principal, move_id: str, version: int | None, now: datetime
) -> tuple[MoveRow, DayOutcome]:
    """Take back a "Done" within ``UNDO_WITHIN`` of it: the move is open again and the day
    re-planned (the move stays with its assistant: it was theirs a moment ago).

    The device is put back in the move's first room when the move was what put it
    where it is now. Raises ``Conflict`` for a move that is not done, one confirmed
    by someone else (an assistant; staff may undo anyone's), one changed since
    ``version``, or a "Done" older than ``UNDO_WITHIN``.
    """
    row = await visible_move(session, who, move_id)
    if row.status != "done":
        raise Conflict("This move is not marked done; there is nothing to take back.")
    if who.role is Role.ASSISTANT and row.confirmed_by != who.subject_id:
        raise Conflict("Someone else marked this move done; only they or staff can take it back.")
    if version is not None and version != row.version:
        raise Conflict("This move changed since you loaded it; reload and try again.")
    if not undo_open(row.confirmed_at, now):
        minutes = int(UNDO_WITHIN.total_seconds() // 60)
        raise Conflict(f"'Done' can be taken back for {minutes} minutes only; ask staff.")
    row.status = "assigned" if row.assistant_id else "pending"
    row.confirmed_at, row.confirmed_by = None, None
    row.contradicted_at, row.contradiction = None, None
    row.version += 1
    row.updated_at = now
    device = await session.get(Device, row.device_id)
    if (
        device is not None
        and device.last_known_room_id == row.to_room_id
        and not row.from_room_id.startswith("?")
    ):
        device.last_known_room_id = row.from_room_id
    await session.flush()
    return row, await plan_day(session, row.school_id, row.local_date, now)


async def cant_do(
    session: AsyncSession,
    who: Principal,
    move_id: str,
    reason: str,
    version: int | None,
    now: datetime,
) -> tuple[MoveRow, DayOutcome, str | None]:
    """Record that a move cannot be done and offer it to someone else at once.

    The assistant who had it declines it (``rota_declines``: the planner
    never gives it back to them; staff may, by hand) and the day is
    re-planned: another on-duty assistant who can still do it in time gets it
    (a change note and the rota-changed notice tell them). Returns ``(move,
    outcome, escalate)``: ``escalate`` is the reason to escalate with
    (``RotaAlerts.failed``) when nobody else can, else ``None``. A move
    nobody had (staff reporting it) becomes ``failed`` and is escalated.
    Saying it again is no error and changes nothing, unless staff have given
    the move back to them by hand since: then it counts anew.
    Raises ``Conflict`` like ``confirm_done`` and for a move already done.
    """
    row = await visible_move(session, who, move_id)
    unchanged = DayOutcome(row.school_id, row.local_date)
    said = await session.get(RotaDeclineRow, (row.id, who.subject_id))
    if said is not None:
        if row.assistant_id != who.subject_id:
            return row, unchanged, None
        # Staff gave it back to them by hand, and they still cannot: said again, anew.
        await session.delete(said)
        await session.flush()
    if row.status == "failed":
        if row.confirmed_by == who.subject_id:
            return row, unchanged, None
        raise Conflict("This move was already reported as not possible; nothing changed.")
    if row.status == "done":
        raise Conflict("This move is already done; nothing changed.")
    await _check_actor(session, who, row, version)
    row.version += 1
    row.updated_at = now
    if row.assistant_id is None:
        row.status, row.status_reason = "failed", reason
        row.confirmed_at, row.confirmed_by = now, who.subject_id
        return row, await plan_day(session, row.school_id, row.local_date, now), reason
    decliner = await session.get(User, row.assistant_id)
    name = decliner.name if decliner else "The assistant"
    session.add(
        RotaDeclineRow(
            move_id=row.id,
            user_id=row.assistant_id,
            reason=reason,
            at=now,
            reported_by=who.subject_id,
        )
    )
    school = await session.get(School, row.school_id)
    assert school is not None  # rows cascade with their school
    note_change(session, row, [row.assistant_id], now, "you can't: {what}", school_zone(school))
    before = row.assistant_id
    row.assistant_id, row.pinned, row.status = None, False, "pending"
    row.status_reason = f"{name} can't: {reason}"[:300]
    await session.flush()
    outcome = await plan_day(session, row.school_id, row.local_date, now)
    outcome.changed_assistants.add(before)
    if _holder(row) is not None:  # the re-plan gave it to someone else
        return row, outcome, None
    row.status_reason = f"{name} can't: {reason}; {row.status_reason or NOBODY_ELSE}"[:300]
    return row, outcome, row.status_reason


def _holder(row: MoveRow) -> str | None:
    return row.assistant_id


async def pin_move(
    session: AsyncSession,
    who: Principal,
    move_id: str,
    assistant_id: str | None,
    version: int | None,
    now: datetime,
) -> tuple[MoveRow, DayOutcome]:
    """Give a move to an assistant by hand (a pin the planner keeps), or unpin it (``None``).

    Raises ``InvalidInput`` for someone who is not an active assistant of the
    move's school, ``Conflict`` for a done move or a stale ``version``, and
    ``Forbidden`` for a coordinator whose provider does not let coordinators change things.
    """
    row = await visible_move(session, who, move_id)
    await check_may_change(session, who, "assign moves by hand")
    if version is not None and version != row.version:
        raise Conflict(f"This move changed since you loaded it (now version {row.version}).")
    if row.status == "done":
        raise Conflict("This move is already done; nothing changed.")
    school = await session.get(School, row.school_id)
    assert school is not None  # rows cascade with their school
    zone = school_zone(school)
    before = row.assistant_id
    if assistant_id is not None:
        user = await session.get(User, assistant_id)
        if user is None or user.role != "assistant" or user.school_id != row.school_id:
            raise InvalidInput(
                "Choose an assistant of this move's school.",
                errors=[{"field": "assistant_id", "message": "not an assistant of this school"}],
            )
        if not user.active:
            raise InvalidInput(
                f"{user.name} is not active.",
                errors=[{"field": "assistant_id", "message": "inactive"}],
            )
        if user.id in await absent_ids(session, row.school_id, row.local_date):
            raise InvalidInput(
                f"{user.name} is away on that day.",
                errors=[{"field": "assistant_id", "message": "away on that day"}],
            )
        row.assistant_id, row.pinned, row.status = assistant_id, True, "assigned"
        row.status_reason = None
    else:
        row.pinned = False
        if row.status == "failed":
            row.status = "pending"
    row.version += 1
    row.updated_at = now
    if before != row.assistant_id:
        note_change(session, row, [before], now, "given to someone else: {what}", zone)
        note_change(session, row, [row.assistant_id], now, "given to you by staff: {what}", zone)
    await session.flush()
    outcome = await plan_day(session, row.school_id, row.local_date, now)
    outcome.changed_assistants |= {a for a in (before, row.assistant_id) if a}
    return row, outcome


async def replan_days(
    session: AsyncSession, school_id: str, days: Iterable[date], now: datetime
) -> list[DayOutcome]:
    """Re-plan each of ``days`` of the school (at most the next fortnight, none in the past)."""
    school = await session.get(School, school_id)
    if school is None:
        return []
    today = now.astimezone(school_zone(school)).date()
    horizon = today + timedelta(days=REPLAN_HORIZON_DAYS)
    chosen = sorted({d for d in days if today <= d <= horizon})
    return [await plan_day(session, school_id, d, now) for d in chosen]


async def replan_ahead(
    session: AsyncSession, school_id: str | None, now: datetime
) -> list[DayOutcome]:
    """Re-plan the school's days already planned, from yesterday on (settings changed)."""
    if school_id is None:
        return []
    planned = await session.scalars(
        select(MoveRow.local_date)
        .where(MoveRow.school_id == school_id, MoveRow.local_date >= now.date() - timedelta(days=1))
        .distinct()
    )
    return await replan_days(session, school_id, set(planned), now)


async def replan_device(session: AsyncSession, device_id: str, now: datetime) -> list[DayOutcome]:
    """Re-plan the days ahead on which ``device_id`` has bookings or open moves.

    For the device registry to call after a lifecycle change (maintenance
    takes a device out of the rota; back to active puts it in again) or when
    a device goes offline for good (a new battery reading only matters to
    today: see ``busy_today``). Publishing is the caller's (``announce``).
    """
    device = await session.get(Device, device_id)
    if device is None or device.school_id is None:
        return []
    school = await session.get(School, device.school_id)
    if school is None:
        return []
    today = now.astimezone(school_zone(school)).date()
    booked = await session.scalars(
        select(Booking.lesson_date).where(
            Booking.classroom_device_id == device_id,
            Booking.lesson_date >= today,
            Booking.status == "booked",
        )
    )
    moving = await session.scalars(
        select(MoveRow.local_date).where(
            MoveRow.device_id == device_id,
            MoveRow.local_date >= today,
            MoveRow.status.in_(OPEN_STATUSES),
        )
    )
    return await replan_days(session, school.id, {*booked, *moving}, now)


async def busy_today(
    session: AsyncSession, device_ids: Iterable[str], now: datetime
) -> list[tuple[str, date]]:
    """The (school id, today there) of those devices' schools where any of them is booked or
    has an open move today: what fresh battery readings from them make worth re-planning."""
    devices = list(await session.scalars(select(Device).where(Device.id.in_(set(device_ids)))))
    days = []
    for school_id in sorted({d.school_id for d in devices if d.school_id}):
        school = await session.get(School, school_id)
        if school is None:
            continue
        today = now.astimezone(school_zone(school)).date()
        ids = [d.id for d in devices if d.school_id == school_id]
        booked = await session.scalar(
            select(Booking.id)
            .where(
                Booking.classroom_device_id.in_(ids),
                Booking.lesson_date == today,
                Booking.status == "booked",
            )
            .limit(1)
        )
        moving = await session.scalar(
            select(MoveRow.id)
            .where(
                MoveRow.device_id.in_(ids),
                MoveRow.local_date == today,
                MoveRow.status.in_(OPEN_STATUSES),
            )
            .limit(1)
        )
        if booked is not None or moving is not None:
            days.append((school_id, today))
    return days


async def devices_with_done_moves(session: AsyncSession, device_ids: list[str]) -> set[str]:
    """Which of these devices have a move marked done (the ones a reported room can contradict)."""
    found: set[str] = set()
    for start in range(0, len(device_ids), 1000):
        chunk = device_ids[start : start + 1000]
        found.update(
            await session.scalars(
                select(MoveRow.device_id)
                .where(MoveRow.device_id.in_(chunk), MoveRow.status == "done")
                .distinct()
            )
        )
    return found


async def check_reported_room(
    session: AsyncSession, device_id: str, reported_room: str | None, now: datetime
) -> MoveRow | None:
    """Flag the device's latest "Done" if telemetry now puts it in another room.

    A reading is a contradiction when the device's latest done move of the
    day (confirmed before ``now``) took it to a known room whose name is not
    ``reported_room``, and nobody has set the device's room since. Returns
    the flagged move (already flagged: ``None``), for the caller to announce.
    """
    if not reported_room:
        return None
    device = await session.get(Device, device_id)
    if device is None:
        return None
    row = await session.scalar(
        select(MoveRow)
        .where(MoveRow.device_id == device_id, MoveRow.status == "done")
        .order_by(MoveRow.confirmed_at.desc())
        .limit(1)
    )
    if row is None or row.confirmed_at is None or row.confirmed_at >= now:
        return None
    if device.last_known_room_id != row.to_room_id or row.contradicted_at is not None:
        return None
    if reported_room.strip().casefold() == row.to_room_name.casefold():
        return None
    row.contradicted_at = now
    row.contradiction = f"confirmed in {row.to_room_name}, but the device reports {reported_room}"[
        :200
    ]
    row.version += 1
    row.updated_at = now
    return row
