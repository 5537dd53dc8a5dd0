"""Why an occurrence cannot be booked: the pupil, their devices, the calendar, the clock.

Each check returns :class:`Clash`es rather than raising, so that one booking
reports every reason at once and a bulk booking can skip and explain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler import repository as repo
from scheduler.calendar import CalendarError, SchoolCalendar
from scheduler.models import Booking
from scheduler.occurrences import Lesson, Occurrence, expand
from scheduler.unavailability import Unavailable, blocking
from telepresence.platform.errors import Conflict, InvalidInput
from telepresence.platform.identity import Principal
from telepresence.platform.models import Pupil, School

__all__ = [
    "Clash",
    "Devices",
    "Plan",
    "choose_devices",
    "clashes_of",
    "find_occurrence",
    "load_plan",
]


@dataclass(frozen=True, slots=True)
class Clash:
    """One reason an occurrence cannot be booked; ``field`` names the input it concerns."""

    field: str
    message: str

    def as_error(self) -> dict[str, Any]:
        """The ``{"field", "message"}`` form of problem+json ``errors``."""
        return {"field": self.field, "message": self.message}


@dataclass(slots=True)
class Plan:
    """Everything about one pupil that booking checks need, loaded once."""

    pupil: Pupil
    calendar: SchoolCalendar
    unavailable: list[Unavailable]

    @property
    def name(self) -> str:
        return repo.pupil_display_name(self.pupil)

    def when(self, instant: datetime) -> str:
        return f"{instant.astimezone(self.calendar.zone):%H:%M}"

    def label(self, subject: str, occ: Occurrence) -> str:
        return f"{subject} on {occ.date:%a %d %b} at {occ.start_local:%H:%M}"


async def load_plan(session: AsyncSession, who: Principal, pupil_id: str) -> Plan:
    """The pupil (if visible to ``who``), their school's calendar and their unavailability.

    Locks the pupil's row first, so that checks and writes for one pupil never interleave.
    """
    pupil = await repo.visible_pupil(session, who, pupil_id)
    await repo.lock_pupil(session, pupil.id)
    school = await session.get(School, pupil.school_id)
    if school is None:
        raise InvalidInput("The pupil's school no longer exists.")
    rows = await repo.load_unavailability(session, pupil.id)
    unavailable = [repo.unavailable_from_row(r) for r in rows]
    return Plan(pupil, await repo.load_calendar(session, school), unavailable)


# --- devices -------------------------------------------------------------------------------


async def _locked_device(session: AsyncSession, plan: Plan, device_id: str, field: str) -> Device:
    await repo.lock_device(session, device_id)
    device = await session.get(Device, device_id, populate_existing=True)
    if device is None or device.provider_id != plan.pupil.provider_id:
        raise InvalidInput(
            f"There is no device {device_id!r}.", errors=[{"field": field, "message": "unknown"}]
        )
    if field == "pupil_device_id" and device.kind != "tablet":
        raise InvalidInput(
            f"{device.name} is a {device.kind}; the pupil's end is a tablet.",
            errors=[{"field": field, "message": "must be a tablet"}],
        )
    return device


async def _assigned(session: AsyncSession, pupil_id: str, kind: str) -> str | None:
    rows = await session.scalars(
        select(Device).where(Device.pupil_id == pupil_id, Device.kind == kind)
    )
    rank = {"active": 0, "maintenance": 1}
    found = sorted(rows, key=lambda d: (rank.get(d.lifecycle, 2), d.name))
    return found[0].id if found else None


@dataclass(frozen=True, slots=True)
class Devices:
    classroom: Device
    pupil: Device | None


async def choose_devices(
    session: AsyncSession, plan: Plan, classroom_id: str | None, pupil_device_id: str | None
) -> Devices:
    """The chosen devices, defaulting to the pupil's assigned robot and tablet."""
    classroom_id = classroom_id or await _assigned(session, plan.pupil.id, "robot")
    if classroom_id is None:
        raise Conflict(
            f"{plan.name} has no robot assigned; choose a classroom device.",
            errors=[{"field": "classroom_device_id", "message": "no robot assigned"}],
        )
    pupil_device_id = pupil_device_id or await _assigned(session, plan.pupil.id, "tablet")
    classroom = await _locked_device(session, plan, classroom_id, "classroom_device_id")
    tablet = None
    if pupil_device_id is not None:
        tablet = await _locked_device(session, plan, pupil_device_id, "pupil_device_id")
    return Devices(classroom, tablet)


async def _device_clashes(
    session: AsyncSession, plan: Plan, device: Device, field: str, occ: Occurrence
) -> list[Clash]:
    what = f"{device.kind.capitalize()} {device.name}"
    clashes = []
    if device.lifecycle != "active":
        state = "in maintenance" if device.lifecycle == "maintenance" else device.lifecycle
        clashes.append(Clash(field, f"{what} is {state}"))
    if field == "classroom_device_id" and device.school_id not in (None, plan.pupil.school_id):
        clashes.append(Clash(field, f"{what} belongs to another school"))
    others = await session.execute(
        select(Booking, Pupil)
        .join(Pupil, Pupil.id == Booking.pupil_id)
        .where(
            Booking.status == "booked",
            Booking.pupil_id != plan.pupil.id,
            or_(Booking.classroom_device_id == device.id, Booking.pupil_device_id == device.id),
            Booking.starts_at < occ.end,
            Booking.ends_at > occ.start,
        )
    )
    for other, pupil in others:
        clashes.append(
            Clash(
                field,
                f"{what} is booked for {repo.pupil_display_name(pupil)} "
                f"{plan.when(other.starts_at)}-{plan.when(other.ends_at)} ({other.subject})",
            )
        )
    return clashes


# --- checks --------------------------------------------------------------------------------


def find_occurrence(plan: Plan, lesson: Lesson, day: date) -> Occurrence | Clash:
    """The lesson's occurrence on ``day``, or the closure / non-school day that prevents it.

    Raises ``InvalidInput`` when the lesson simply does not fall on that day.
    """
    try:
        found = expand([lesson], plan.calendar, day, day)
    except CalendarError as exc:
        return Clash("date", str(exc))
    if found:
        return found[0]
    closure = plan.calendar.closure_on(day)
    if closure is not None:
        return Clash("date", f"the school is closed on {day:%a %d %b %Y} ({closure.name})")
    if not plan.calendar.is_school_day(day):
        return Clash("date", f"{day:%a %d %b %Y} is not a school day")
    raise InvalidInput(
        f"{lesson.subject} does not take place on {day:%a %d %b %Y}.",
        errors=[{"field": "date", "message": "no such occurrence"}],
    )


async def _pupil_clashes(
    session: AsyncSession, plan: Plan, lesson: Lesson, occ: Occurrence, now: datetime
) -> list[Clash]:
    clashes = []
    if occ.start <= now:
        clashes.append(Clash("date", f"{plan.label(lesson.subject, occ)} is in the past"))
    booked = await session.scalars(
        select(Booking).where(
            Booking.pupil_id == plan.pupil.id,
            Booking.status == "booked",
            Booking.starts_at < occ.end,
            Booking.ends_at > occ.start,
        )
    )
    for other in booked:
        same = other.lesson_key == occ.lesson_key and other.lesson_date == occ.date
        what = "this lesson" if same else f"{other.subject} {plan.when(other.starts_at)}"
        clashes.append(Clash("pupil", f"{plan.name} is already booked into {what}"))
    clashes += [
        Clash("unavailability", f"{plan.name} is unavailable: {u.describe(plan.calendar.zone)}")
        for u in blocking(plan.unavailable, occ)
    ]
    return clashes


async def clashes_of(
    session: AsyncSession,
    plan: Plan,
    lesson: Lesson,
    occ: Occurrence,
    devices: Devices,
    now: datetime,
) -> list[Clash]:
    """Every reason the pupil cannot be booked into ``occ`` with ``devices`` at ``now``."""
    found = await _pupil_clashes(session, plan, lesson, occ, now)
    found += await _device_clashes(session, plan, devices.classroom, "classroom_device_id", occ)
    if devices.pupil is not None:
        found += await _device_clashes(session, plan, devices.pupil, "pupil_device_id", occ)
    return found
