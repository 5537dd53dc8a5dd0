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
from scheduler.rota.loading import load_day, school_zone
from scheduler.rota.models import AssistantRotaRow, MoveRow, RotaChangeRow, RotaDeclineRow
from scheduler.rota.planning import DayOutcome, derive_day, plan_day, planned_charges
from scheduler.rota.services import visible_school
from scheduler.timetables.repository import pupil_display_name
from telepresence.platform.errors import Forbidden
from telepresence.platform.identity import Principal, Role
from telepresence.platform.models import Pupil, School, User

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

    def local(self, instant: datetime | None) -> str:
        """``HH:MM`` in the school's zone ('' for none)."""
        return instant.astimezone(self.zone).strftime("%H:%M") if instant else ""

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

    @property
    def declined_untold(self) -> list[str]:
        """The ``declined`` lines the status reason does not already tell (for the page)."""
        told = self.row.status_reason or ""
        return [
            line
            for (name, _at, reason), line in zip(self.declines, self.declined, strict=True)
            if f"{name} can't: {reason}" not in told
        ]


@dataclass
class RotaDay:
    """One school day's moves in time order, and the school's assistants (for hand edits)."""

    school: School
    day: date
    zone: ZoneInfo
    moves: list[MoveView]
    assistants: list[User]
    changes: list[RotaChangeRow] = field(default_factory=list)
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
    session: AsyncSession, who: Principal, now: datetime, *, mark_seen: bool
) -> tuple[RotaDay, DayOutcome | None]:
    """The calling assistant's moves today and what changed for them since their last look.

    ``mark_seen`` records this as their last look (a page load; not a live refresh).
    """
    if who.role is not Role.ASSISTANT or who.school_id is None:
        raise Forbidden("Only a classroom assistant has a rota of their own.")
    rota, outcome = await day_rota(session, who, who.school_id, None, now)
    rota.moves = [m for m in rota.moves if m.row.assistant_id == who.subject_id]
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
    rota.changes = list(await session.scalars(query.order_by(RotaChangeRow.at, RotaChangeRow.id)))
    if mark_seen:
        settings.last_look_at = now
    return rota, outcome


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
