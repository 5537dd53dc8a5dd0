"""Reading the rota for people: a school's day for staff, one assistant's day for them.

Pupils appear as first name and initial only, to everyone, and nothing else
of theirs (no medical detail is stored anyway). Times are shown in the
school's zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.rota.domain.moves import BatteryWarning
from scheduler.rota.domain.wording import (
    UNDO_WITHIN,
    ChangeNote,
    done_too_early,
    fold_changes,
    in_minutes,
    undo_open,
)
from scheduler.rota.loading import load_day, school_zone
from scheduler.rota.models import AssistantRotaRow, MoveRow, RotaChangeRow, RotaDeclineRow
from scheduler.rota.planning import DayOutcome, derive_day, plan_day, planned_charges
from scheduler.rota.services import visible_school
from scheduler.timetables.repository import pupil_display_name
from telepresence.platform.errors import Forbidden
from telepresence.platform.models import Pupil, Room, School, User
from telepresence.platform.security.identity import Principal, Role

__all__ = [
    "MoveView",
    "RotaDay",
    "assistant_moves",
    "day_rota",
    "display_status",
    "local_today",
    "my_rota",
]

KIND_LABEL = {"robot": "Robot", "tablet": "Tablet"}


def local_today(school: School, now: datetime) -> date:
    """The school's local date at ``now``."""
    return now.astimezone(school_zone(school)).date()


def display_status(row: MoveRow, now: datetime) -> str:
    """``pending``, ``assigned``, ``reminded``, ``late``, ``done``, ``failed`` or ``escalated``."""
    if row.status in {"done", "failed", "escalated"}:
        return row.status
    if now > row.due:
        return "late"
    if row.reminded_at is not None and row.status == "assigned":
        return "reminded"
    return row.status


@dataclass(frozen=True)
class DeviceState:
    """What the assistant needs to know of the robot: battery, online, where its charger is."""

    battery_pct: int | None
    charging: bool
    online: bool
    charger: str | None  # the charging base's room name; None: not set

    @property
    def battery(self) -> str:
        """ "Battery 64 %", "Battery 64 %, charging" or "Battery unknown"."""
        if self.battery_pct is None:
            return "Battery unknown"
        return f"Battery {self.battery_pct} %" + (", charging" if self.charging else "")

    @property
    def low(self) -> bool:
        """Under 20 % and not charging."""
        return self.battery_pct is not None and self.battery_pct < 20 and not self.charging


@dataclass(frozen=True)
class MoveView:
    """A move with the names people read, in the school's time."""

    row: MoveRow
    zone: ZoneInfo
    device_name: str
    device_kind: str
    assistant_name: str | None
    pupil: str | None
    confirmed_by_name: str | None
    status: str
    minutes_left: int | None
    # (name, "HH:MM", reason) of each "Can't do it" said for this move, oldest first
    declines: tuple[tuple[str, str, str], ...] = ()
    # who said each of them (user ids, same order): reasons are for staff and the sayer
    decliner_ids: tuple[str, ...] = ()
    device: DeviceState | None = None
    soon: str | None = None  # "in 25 min" when near
    undo: bool = False  # "Done" may still be taken back
    early: bool = False  # "Done" now would be far ahead of its window
    advice: tuple[str, ...] = ()  # for staff: a walk too short, who else could do it

    def local(self, instant: datetime | None) -> str:
        """``HH:MM`` in the school's zone ('' for none)."""
        return instant.astimezone(self.zone).strftime("%H:%M") if instant else ""

    @property
    def window(self) -> str:
        """ "09:50 to 10:05": when the move may be done, in the school's zone; "at 10:05,
        straight after the lesson" for back-to-back lessons (no time between them)."""
        if self.row.earliest >= self.row.due:
            return f"at {self.local(self.row.due)}, straight after the lesson"
        return f"{self.local(self.row.earliest)} to {self.local(self.row.due)}"

    @property
    def undo_until(self) -> str:
        """ "10:07": until when a "Done" may be taken back (school time)."""
        confirmed = self.row.confirmed_at
        return self.local(confirmed + UNDO_WITHIN) if confirmed else ""

    @property
    def summary(self) -> str:
        """ "Robot 'Robbie' · from S12 to Lab 3 · by 10:05 · for Sam K."."""
        kind = KIND_LABEL.get(self.device_kind, self.device_kind.capitalize())
        text = (
            f"{kind} '{self.device_name}' · from {self.row.from_room_name} "
            f"to {self.row.to_room_name} · by {self.local(self.row.due)}"
        )
        return f"{text} · for {self.pupil}" if self.pupil else text

    @property
    def declined(self) -> list[str]:
        """ "Ann Smith can't (10:02): on lunch cover", one per "Can't do it"."""
        return [f"{name} can't ({at}): {reason}" for name, at, reason in self.declines]

    def status_reason_for(self, assistant_id: str) -> str | None:
        """The status reason as an assistant may read it: reasons are for staff and the sayer.

        When anyone else said "Can't do it" here, only that someone can't.
        """
        if self.row.status_reason and any(s != assistant_id for s in self.decliner_ids):
            return OTHERS_CANT
        return self.row.status_reason

    @property
    def declined_untold(self) -> list[str]:
        """The ``declined`` lines the status reason does not already tell (for the page)."""
        told = self.row.status_reason or ""
        return [
            line
            for (name, _at, reason), line in zip(self.declines, self.declined, strict=True)
            if f"{name} can't: {reason}" not in told
        ]


OTHERS_CANT = "Someone can't do it; staff are sorting it out."


@dataclass
class RotaDay:
    """One school day's moves in time order, and the school's assistants (for hand edits)."""

    school: School
    day: date
    zone: ZoneInfo
    moves: list[MoveView]
    assistants: list[User]
    changes: list[str] = field(default_factory=list)  # folded, one line a move
    battery: list[str] = field(default_factory=list)  # today's battery risks, for staff

    @property
    def unassigned(self) -> list[MoveView]:
        """Open moves nobody has."""
        return [m for m in self.moves if m.row.assistant_id is None and m.status == "pending"]


async def _views(
    session: AsyncSession, school: School, rows: list[MoveRow], now: datetime
) -> list[MoveView]:
    zone = school_zone(school)
    device_ids = {r.device_id for r in rows}
    devices = {
        d.id: d for d in await session.scalars(select(Device).where(Device.id.in_(device_ids)))
    }
    declines = list(
        await session.scalars(
            select(RotaDeclineRow)
            .where(RotaDeclineRow.move_id.in_(r.id for r in rows))
            .order_by(RotaDeclineRow.at)
        )
    )
    people = {r.assistant_id for r in rows} | {r.confirmed_by for r in rows}
    people |= {d.user_id for d in declines}
    names = {
        u.id: u.name
        for u in await session.scalars(select(User).where(User.id.in_(p for p in people if p)))
    }
    pupil_ids = {r.pupil_id for r in rows if r.pupil_id}
    pupils = {
        p.id: pupil_display_name(p)
        for p in await session.scalars(select(Pupil).where(Pupil.id.in_(pupil_ids)))
    }
    base_ids = {d.charging_base_room_id for d in devices.values() if d.charging_base_room_id}
    bases = dict(
        (await session.execute(select(Room.id, Room.name).where(Room.id.in_(base_ids)))).all()
    )
    states = {
        d.id: DeviceState(
            d.battery_pct, bool(d.charging), d.online, bases.get(d.charging_base_room_id or "")
        )
        for d in devices.values()
    }
    said: dict[str, list[tuple[str, str, str]]] = {}
    sayers: dict[str, list[str]] = {}
    for d in declines:
        who, when = names.get(d.user_id, "An assistant"), d.at.astimezone(zone).strftime("%H:%M")
        said.setdefault(d.move_id, []).append((who, when, d.reason))
        sayers.setdefault(d.move_id, []).append(d.user_id)
    views = []
    for row in sorted(rows, key=lambda r: (r.due, r.earliest, r.id)):
        device = devices.get(row.device_id)
        status = display_status(row, now)
        left = None
        if status in {"pending", "assigned", "reminded", "escalated"}:
            left = max(0, int((row.due - now).total_seconds() // 60))
        views.append(
            MoveView(
                row,
                zone,
                device.name if device else "?",
                device.kind if device else "robot",
                names.get(row.assistant_id or ""),
                pupils.get(row.pupil_id or ""),
                names.get(row.confirmed_by or ""),
                status,
                left,
                tuple(said.get(row.id, ())),
                tuple(sayers.get(row.id, ())),
                states.get(row.device_id),
                in_minutes(row.due, now) if left is not None else None,
                row.status == "done" and undo_open(row.confirmed_at, now),
                left is not None and done_too_early(row.earliest, now),
            )
        )
    return views


async def day_rota(
    session: AsyncSession,
    who: Principal,
    school_id: str,
    day: date | None,
    now: datetime,
    *,
    battery: bool = False,
) -> tuple[RotaDay, DayOutcome | None]:
    """The school's rota of ``day`` (default: today there), planned first if it never was.

    Staff of the school's provider and the school's own assistants only
    (``NotFound`` for anyone else). Returns the outcome of a first plan, if
    one was made, for the caller to announce after the commit. With
    ``battery``, today's battery risks too (``battery_risks``).
    """
    school = await visible_school(session, who, school_id)
    day = day or local_today(school, now)
    rows = await _rows(session, school.id, day)
    outcome = None
    if not rows:
        outcome = await plan_day(session, school.id, day, now)
        rows = await _rows(session, school.id, day)
    assistants = list(
        await session.scalars(
            select(User)
            .where(User.school_id == school.id, User.role == "assistant", User.active)
            .order_by(User.name)
        )
    )
    views = await _views(session, school, rows, now)
    rota = RotaDay(school, day, school_zone(school), views, assistants)
    if battery and day == local_today(school, now):
        rota.battery = await battery_risks(session, school, day, rows, now)
    return rota, outcome


async def battery_risks(
    session: AsyncSession, school: School, day: date, rows: list[MoveRow], now: datetime
) -> list[str]:
    """Lessons of ``day`` a robot's battery is projected not to last, with no gap to charge
    it first: what the key worker and the school contact were told, for the staff page."""
    inputs = await load_day(session, school, day)
    inputs.now, inputs.charge_after = now, planned_charges(rows)
    warnings: list[BatteryWarning] = []
    derive_day(inputs, warnings)
    lessons = {lesson.booking_id: lesson for day_of in inputs.lessons.values() for lesson in day_of}
    zone = school_zone(school)
    said = []
    for warning in warnings:
        lesson, device = lessons.get(warning.booking_id), inputs.devices.get(warning.device_id)
        if lesson is None or device is None:
            continue
        left = round(warning.projected_pct)
        end = f"about {left} % left at its end" if left > 0 else "it would run flat before the end"
        said.append(
            f"Robot '{device.name}' may run out of battery in the lesson at "
            f"{lesson.starts_at.astimezone(zone):%H:%M} ({end}): charge or swap it before then."
        )
    return said


async def _rows(session: AsyncSession, school_id: str, day: date) -> list[MoveRow]:
    return list(
        await session.scalars(
            select(MoveRow).where(MoveRow.school_id == school_id, MoveRow.local_date == day)
        )
    )


async def my_rota(
    session: AsyncSession, who: Principal, now: datetime, *, mark_seen: bool, ahead: int = 0
) -> tuple[RotaDay, DayOutcome | None]:
    """The calling assistant's moves today (``ahead`` days on: tomorrow is 1) and, today,
    what changed for them since their last look, one line a move (``fold_changes``).

    ``mark_seen`` records this as their last look (a page load of today; not a live
    refresh).
    """
    if who.role is not Role.ASSISTANT or who.school_id is None:
        raise Forbidden("Only a classroom assistant has a rota of their own.")
    school = await visible_school(session, who, who.school_id)
    day = local_today(school, now) + timedelta(days=ahead)
    rota, outcome = await day_rota(session, who, who.school_id, day, now)
    rota.moves = [m for m in rota.moves if m.row.assistant_id == who.subject_id]
    if ahead:
        return rota, outcome
    settings = await session.get(AssistantRotaRow, who.subject_id)
    if settings is None:
        settings = AssistantRotaRow(user_id=who.subject_id)
        session.add(settings)
    since = settings.last_look_at
    query = select(RotaChangeRow).where(
        RotaChangeRow.assistant_id == who.subject_id, RotaChangeRow.local_date == rota.day
    )
    if since is not None:
        query = query.where(RotaChangeRow.at > since)
    notes = list(await session.scalars(query.order_by(RotaChangeRow.at, RotaChangeRow.id)))
    rota.changes = fold_changes(await _named(session, notes), rota.zone)
    if mark_seen:
        settings.last_look_at = now
    return rota, outcome


async def _named(session: AsyncSession, notes: list[RotaChangeRow]) -> list[ChangeNote]:
    """The notes with the name of the robot each is about (moves since deleted: none)."""
    devices = dict(
        (
            await session.execute(
                select(MoveRow.id, Device.name)
                .join(Device, Device.id == MoveRow.device_id)
                .where(MoveRow.id.in_({n.move_id for n in notes}))
            )
        ).all()
    )
    return [ChangeNote(n.at, n.move_id, n.text, devices.get(n.move_id)) for n in notes]


async def assistant_moves(
    session: AsyncSession, user: User, now: datetime, days: int = 14
) -> list[MoveView]:
    """The assistant's moves from yesterday to ``days`` ahead (their calendar feed)."""
    school = await session.get(School, user.school_id) if user.school_id else None
    if school is None:
        return []
    today = local_today(school, now)
    rows = await session.scalars(
        select(MoveRow).where(
            MoveRow.assistant_id == user.id,
            MoveRow.local_date >= today - timedelta(days=1),
            MoveRow.local_date <= today + timedelta(days=days),
        )
    )
    return await _views(session, school, list(rows), now)
