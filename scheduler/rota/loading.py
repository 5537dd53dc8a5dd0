"""Reading one school day of the rota from the database as domain objects.

Bookings name their room by the name the timetable gave it; a name the school
has a room for becomes that room (with its building and floor), any other
name becomes a room of its own (id ``?<name>``) on the ground floor of no
building, so the walking rule treats it as "another building" and is safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.bookings.models import Booking
from scheduler.rota.battery import drain_rates
from scheduler.rota.domain.moves import Assistant, BookedLesson, DeviceDay, DutyWindow
from scheduler.rota.domain.walking import RoomRef, WalkingRules, room_pair
from scheduler.rota.models import (
    AbsenceRow,
    AssistantRotaRow,
    DutyPatternRow,
    WalkingOverrideRow,
    WalkingRuleRow,
)
from telepresence.platform.models import Room, School, User

__all__ = [
    "DayInputs",
    "RoomBook",
    "absent_ids",
    "duty_window",
    "load_assistants",
    "load_day",
    "load_rooms",
    "load_walking",
    "local_instant",
    "parse_hhmm",
    "school_zone",
    "without_overlaps",
]

ROTA_DEVICE_KINDS = ("robot", "tablet")
DRAIN_PCT_PER_HOUR = 15.0
"""A robot's battery use in a live lesson (an AV1-class robot lasts 6-7 hours of lessons),
until its own rate is learned from its telemetry (``scheduler.rota.battery``)."""
FRESH_READING = timedelta(minutes=30)
"""A battery reading older than this (the device went quiet) decides no new charge trip."""


def school_zone(school: School) -> ZoneInfo:
    """The school's IANA zone."""
    return ZoneInfo(school.time_zone)


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A local wall-clock time of ``day`` in ``zone`` as an aware UTC instant."""
    return datetime.combine(day, at, zone).astimezone(UTC)


def parse_hhmm(text: str) -> time:
    """``HH:MM`` as a time; raises ``ValueError`` for anything else."""
    hours, _, minutes = text.partition(":")
    return time(int(hours), int(minutes))


@dataclass
class RoomBook:
    """The school's rooms by id and by name, and the refs the rota uses for them."""

    by_id: dict[str, Room]
    by_name: dict[str, Room]

    def ref(self, name: str) -> RoomRef:
        """The rota's ref for a room named in a booking (unknown names get ``?<name>``)."""
        room = self.by_name.get(name.strip().casefold())
        return self.ref_of(room) if room else RoomRef(f"?{name.strip()[:100]}", "?", 0)

    @staticmethod
    def ref_of(room: Room) -> RoomRef:
        """The rota's ref of a known room."""
        return RoomRef(room.id, room.building, room.floor)

    def name(self, room_id: str) -> str:
        """The name to show for a ref's id."""
        room = self.by_id.get(room_id)
        return room.name if room else room_id.removeprefix("?")


@dataclass
class DayInputs:
    """Everything the planner needs for one school day."""

    school: School
    day: date
    rooms: RoomBook
    walking: WalkingRules
    assistants: list[Assistant]
    devices: dict[str, Device]
    lessons: dict[str, list[BookedLesson]] = field(default_factory=dict)
    pupil_of_booking: dict[str, str] = field(default_factory=dict)
    now: datetime | None = None
    charge_after: dict[str, frozenset[str]] = field(default_factory=dict)
    drain: dict[str, float] = field(default_factory=dict)  # learned, % an hour in a lesson

    def device_day(self, device_id: str) -> DeviceDay:
        """The device at the start of the day: on its base, or where it was last without one.

        On the school's today, with a battery reading at most ``FRESH_READING``
        old, the battery rule projects from ``now``; charge trips already
        planned (``charge_after``) are passed on so that they stay put.
        """
        device = self.devices[device_id]
        base = self.rooms.by_id.get(device.charging_base_room_id or "")
        last = self.rooms.by_id.get(device.last_known_room_id or "")
        # The day starts on the base (the rota took it back there last night), so the
        # derived moves, and their ids, do not change as the robot moves during the day.
        start = None if base is not None else last
        day = DeviceDay(
            device_id,
            RoomBook.ref_of(base) if base else None,
            RoomBook.ref_of(start) if start else None,
            charge_after=self.charge_after.get(device_id, frozenset()),
        )
        if self._fresh_reading(device):
            day = replace(
                day,
                battery_pct=float(device.battery_pct or 0),
                drain_pct_per_hour=self.drain.get(device_id, DRAIN_PCT_PER_HOUR),
                battery_at=self.now,
                charging=bool(device.charging),
            )
        return day

    def _fresh_reading(self, device: Device) -> bool:
        now, seen = self.now, device.last_seen_at
        if now is None or seen is None or device.battery_pct is None or device.kind != "robot":
            return False  # a tablet on a stand stays plugged in
        today = now.astimezone(school_zone(self.school)).date()
        return today == self.day and now - seen <= FRESH_READING


async def load_rooms(session: AsyncSession, school_id: str) -> RoomBook:
    """The school's rooms."""
    rooms = list(await session.scalars(select(Room).where(Room.school_id == school_id)))
    return RoomBook({r.id: r for r in rooms}, {r.name.casefold(): r for r in rooms})


async def load_walking(session: AsyncSession, school_id: str) -> WalkingRules:
    """The school's walking rules and per-pair overrides (the defaults when none are set)."""
    rule = await session.get(WalkingRuleRow, school_id)
    overrides = {
        room_pair(o.room_a_id, o.room_b_id): timedelta(seconds=o.seconds)
        for o in await session.scalars(
            select(WalkingOverrideRow).where(WalkingOverrideRow.school_id == school_id)
        )
    }
    if rule is None:
        return WalkingRules(overrides=overrides)
    return WalkingRules(
        timedelta(seconds=rule.same_floor_s),
        timedelta(seconds=rule.same_building_s),
        timedelta(seconds=rule.other_building_s),
        overrides,
    )


async def absent_ids(session: AsyncSession, school_id: str, day: date) -> set[str]:
    """The assistants of the school away on ``day``."""
    rows = await session.scalars(
        select(AbsenceRow.user_id).where(
            AbsenceRow.school_id == school_id,
            AbsenceRow.start_date <= day,
            AbsenceRow.end_date >= day,
        )
    )
    return set(rows)


def duty_window(row: DutyPatternRow, day: date, zone: ZoneInfo) -> DutyWindow:
    """A weekly pattern laid on a date (DST-correct in the school's zone)."""
    breaks = tuple(
        (
            local_instant(day, parse_hhmm(start), zone),
            local_instant(day, parse_hhmm(end), zone),
        )
        for start, end in row.breaks
    )
    return DutyWindow(
        local_instant(day, row.start_time, zone), local_instant(day, row.end_time, zone), breaks
    )


async def load_assistants(
    session: AsyncSession, school: School, day: date, rooms: RoomBook | None = None
) -> list[Assistant]:
    """The school's active assistants with their duty of ``day``, caps, absences and base rooms.

    An assistant's base room (from ``rooms``) is where their first errand of
    the day starts; without one, or without ``rooms``, they are assumed to
    start next to their first move.
    """
    users = list(
        await session.scalars(
            select(User)
            .where(User.school_id == school.id, User.role == "assistant", User.active)
            .order_by(User.name, User.id)
        )
    )
    ids = [u.id for u in users]
    patterns = await session.scalars(
        select(DutyPatternRow).where(
            DutyPatternRow.user_id.in_(ids), DutyPatternRow.weekday == day.weekday()
        )
    )
    zone = school_zone(school)
    windows: dict[str, list[DutyWindow]] = {}
    for row in patterns:
        windows.setdefault(row.user_id, []).append(duty_window(row, day, zone))
    settings = {
        r.user_id: r
        for r in await session.scalars(
            select(AssistantRotaRow).where(AssistantRotaRow.user_id.in_(ids))
        )
    }
    away = await absent_ids(session, school.id, day)
    out = []
    for u in users:
        own = settings.get(u.id)
        base = rooms.by_id.get(own.base_room_id or "") if rooms and own else None
        out.append(
            Assistant(
                u.id,
                tuple(windows.get(u.id, ())),
                RoomBook.ref_of(base) if base else None,
                own.max_moves_per_day if own else None,
                u.id in away,
            )
        )
    return out


async def load_day(session: AsyncSession, school: School, day: date) -> DayInputs:
    """Rooms, walking, assistants and the live bookings of the school's active rota devices."""
    rooms = await load_rooms(session, school.id)
    inputs = DayInputs(
        school,
        day,
        rooms,
        await load_walking(session, school.id),
        await load_assistants(session, school, day, rooms),
        {},
    )
    rows = await session.execute(
        select(Booking, Device)
        .join(Device, Device.id == Booking.classroom_device_id)
        .where(
            Booking.school_id == school.id,
            Booking.lesson_date == day,
            Booking.status == "booked",
            # A flagged booking's lesson was removed or moved: no robot is carried to
            # it until staff keep it (as a one-off) or cancel it.
            Booking.flagged_reason.is_(None),
            Device.kind.in_(ROTA_DEVICE_KINDS),
            Device.lifecycle == "active",
        )
        .order_by(Booking.starts_at)
    )
    for booking, device in rows:
        inputs.devices[device.id] = device
        inputs.pupil_of_booking[booking.id] = booking.pupil_id
        lesson = BookedLesson(
            booking.id, device.id, rooms.ref(booking.room), booking.starts_at, booking.ends_at
        )
        inputs.lessons.setdefault(device.id, []).append(lesson)
    inputs.drain = await drain_rates(session, inputs.devices)
    return inputs


def without_overlaps(lessons: Sequence[BookedLesson]) -> list[BookedLesson]:
    """The lessons minus any that overlap an earlier one (bookings forbid it; be safe)."""
    kept: list[BookedLesson] = []
    for lesson in sorted(lessons, key=lambda x: x.starts_at):
        if kept and lesson.starts_at < kept[-1].ends_at:
            continue
        kept.append(lesson)
    return kept
