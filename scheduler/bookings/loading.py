"""Loading and locking what a booking decision needs, before the rules decide.

A booking use case visits this module once to load and lock (the pupil, their
calendar and unavailability, the chosen devices, the live bookings that could
clash), asks the pure rules of ``scheduler.bookings.rules``, then writes. The
pupil's row is locked first, so that checks and writes for one pupil never
interleave; then the devices, so that two pupils cannot take one robot at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.bookings import repository as booking_repo
from scheduler.bookings.models import Booking
from scheduler.bookings.rules import DeviceFacts, Overlap, PupilFacts
from scheduler.timetables import repository as repo
from scheduler.timetables.calendar import SchoolCalendar
from telepresence.platform.errors import Conflict, InvalidInput
from telepresence.platform.models import Pupil
from telepresence.platform.security.identity import Principal

__all__ = [
    "DeviceColumns",
    "Devices",
    "OverlapColumns",
    "Overlaps",
    "Plan",
    "choose_devices",
    "load_overlaps",
    "load_plan",
    "pick_devices",
    "split_overlaps",
]


@dataclass(slots=True)
class Plan:
    """The pupil's row (to write bookings for) and the facts the rules need, loaded once."""

    pupil: Pupil
    facts: PupilFacts

    @property
    def name(self) -> str:
        return self.facts.name

    @property
    def calendar(self) -> SchoolCalendar:
        return self.facts.calendar


async def load_plan(session: AsyncSession, who: Principal, pupil_id: str) -> Plan:
    """The pupil (if visible to ``who``), locked, with their calendar and unavailability."""
    pupil, school, stamp = await repo.school_with_stamp(session, who, pupil_id, lock=True)
    rows = await booking_repo.load_unavailability(session, pupil.id)
    unavailable = [booking_repo.unavailable_from_row(r) for r in rows]
    calendar = await repo.dated_calendar(session, school, stamp)
    facts = PupilFacts(repo.pupil_display_name(pupil), pupil.school_id, calendar, unavailable)
    return Plan(pupil, facts)


# --- devices -------------------------------------------------------------------------------


class DeviceColumns(Protocol):
    """What choosing and checking a device reads of it: its row, or the plain values of one."""

    @property
    def id(self) -> str: ...
    @property
    def provider_id(self) -> str: ...
    @property
    def pupil_id(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def lifecycle(self) -> str: ...
    @property
    def school_id(self) -> str | None: ...


def _checked(
    provider_id: str, device: DeviceColumns | None, device_id: str, field: str
) -> DeviceColumns:
    if device is None or device.provider_id != provider_id:
        raise InvalidInput(
            f"There is no device {device_id!r}.", errors=[{"field": field, "message": "unknown"}]
        )
    if field == "pupil_device_id" and device.kind != "tablet":
        raise InvalidInput(
            f"{device.name} is a {device.kind}; the pupil's end is a tablet.",
            errors=[{"field": field, "message": "must be a tablet"}],
        )
    return device


def _assigned(devices: Sequence[DeviceColumns], pupil_id: str) -> dict[str, str]:
    """The pupil's assigned robot and tablet by kind (active first, then by name)."""
    rank = {"active": 0, "maintenance": 1}
    chosen: dict[str, str] = {}
    mine = [d for d in devices if d.pupil_id == pupil_id and d.kind in ("robot", "tablet")]
    for device in sorted(mine, key=lambda d: (rank.get(d.lifecycle, 2), d.name)):
        chosen.setdefault(device.kind, device.id)
    return chosen


@dataclass(frozen=True, slots=True)
class Devices:
    """The chosen devices (rows or values, to book with) and their facts (classroom end first)."""

    classroom: DeviceColumns
    pupil: DeviceColumns | None

    @property
    def ids(self) -> list[str]:
        """The chosen devices' ids, classroom end first."""
        return [d.id for d in (self.classroom, self.pupil) if d is not None]

    @property
    def facts(self) -> list[DeviceFacts]:
        chosen = [("classroom_device_id", self.classroom), ("pupil_device_id", self.pupil)]
        return [
            DeviceFacts(d.id, name, d.kind, d.name, d.lifecycle, d.school_id)
            for name, d in chosen
            if d is not None
        ]


def pick_devices(
    name: str,
    pupil_id: str,
    provider_id: str,
    rows: Sequence[DeviceColumns],
    classroom_id: str | None,
    pupil_device_id: str | None,
) -> Devices:
    """The devices chosen among ``rows`` (those given, and the pupil's robots and tablets
    when one is not given): the given ones, else the pupil's assigned robot and tablet.

    Raises ``Conflict`` when no robot is assigned, ``InvalidInput`` for an unknown device
    or a pupil's end that is not a tablet (pure: both backends' bookings ask it).
    """
    by_id = {d.id: d for d in rows}
    defaults = not (classroom_id and pupil_device_id)
    assigned = _assigned(rows, pupil_id) if defaults else {}
    classroom_id = classroom_id or assigned.get("robot")
    if classroom_id is None:
        raise Conflict(
            f"{name} has no robot assigned: an administrator assigns one on the Devices "
            "page (or give classroom_device_id).",
            errors=[{"field": "classroom_device_id", "message": "no robot assigned"}],
        )
    pupil_device_id = pupil_device_id or assigned.get("tablet")
    classroom = _checked(provider_id, by_id.get(classroom_id), classroom_id, "classroom_device_id")
    tablet = None
    if pupil_device_id is not None:
        tablet = _checked(
            provider_id, by_id.get(pupil_device_id), pupil_device_id, "pupil_device_id"
        )
    return Devices(classroom, tablet)


async def choose_devices(
    session: AsyncSession, plan: Plan, classroom_id: str | None, pupil_device_id: str | None
) -> Devices:
    """The chosen devices, locked, defaulting to the pupil's assigned robot and tablet.

    One statement locks the devices given and, when one is not given, the pupil's
    robots and tablets to choose from (read after the lock, as they are now).
    """
    given = [d for d in (classroom_id, pupil_device_id) if d]
    defaults = not (classroom_id and pupil_device_id)
    rows = await booking_repo.locked_devices(
        session, given, assigned_to=plan.pupil.id if defaults else None
    )
    pupil = plan.pupil
    return pick_devices(plan.name, pupil.id, pupil.provider_id, rows, classroom_id, pupil_device_id)


# --- live bookings that could clash --------------------------------------------------------


class OverlapColumns(Protocol):
    """What the rules read of a live booking that may clash: its row, or plain values."""

    @property
    def pupil_id(self) -> str: ...
    @property
    def lesson_key(self) -> str: ...
    @property
    def lesson_date(self) -> date: ...
    @property
    def subject(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def classroom_device_id(self) -> str: ...
    @property
    def pupil_device_id(self) -> str | None: ...


@dataclass(slots=True)
class Overlaps:
    """Live bookings over a span: the pupil's own, and other pupils' by device id."""

    own: list[Overlap] = field(default_factory=list)
    others: dict[str, list[Overlap]] = field(default_factory=dict)

    def add_own(self, booking: Booking) -> None:
        """Count a booking just made (a bulk booking checks the next ones against it)."""
        self.own.append(_overlap(booking))


def _overlap(booking: OverlapColumns, pupil_name: str = "") -> Overlap:
    return Overlap(
        booking.lesson_key,
        booking.lesson_date,
        booking.subject,
        booking.starts_at,
        booking.ends_at,
        pupil_name,
    )


def split_overlaps(
    pupil_id: str, device_ids: Sequence[str], seen: Iterable[tuple[OverlapColumns, str]]
) -> Overlaps:
    """Live bookings (each with its pupil's display name) as the rules take them: the
    pupil's own, and other pupils' of each of ``device_ids`` (pure: both backends)."""
    own: list[Overlap] = []
    others: dict[str, list[Overlap]] = defaultdict(list)
    for booking, pupil_name in seen:
        if booking.pupil_id == pupil_id:
            own.append(_overlap(booking))
            continue
        overlap = _overlap(booking, pupil_name)
        for device_id in device_ids:
            if device_id in (booking.classroom_device_id, booking.pupil_device_id):
                others[device_id].append(overlap)
    return Overlaps(own, dict(others))


async def load_overlaps(
    session: AsyncSession, plan: Plan, devices: Devices, start: datetime, end: datetime
) -> Overlaps:
    """The live bookings that meet ``[start, end)``: the pupil's, and others' of ``devices``."""
    live = (Booking.status == "booked", Booking.starts_at < end, Booking.ends_at > start)
    ids = devices.ids
    # One round trip: the pupil's own bookings and other pupils' of these devices.
    rows = await session.execute(
        select(Booking, Pupil)
        .join(Pupil, Pupil.id == Booking.pupil_id)
        .where(
            or_(
                Booking.pupil_id == plan.pupil.id,
                Booking.classroom_device_id.in_(ids),
                Booking.pupil_device_id.in_(ids),
            ),
            *live,
        )
        .order_by(Booking.starts_at, Booking.id)
    )
    seen = [(booking, repo.pupil_display_name(pupil)) for booking, pupil in rows]
    return split_overlaps(plan.pupil.id, ids, seen)
