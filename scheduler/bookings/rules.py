"""Why an occurrence cannot be booked: the pupil, their devices, the calendar, the clock (pure).

The service loads and locks what these rules need (``scheduler.bookings.loading``),
then asks them; nothing here touches the database, so every rule is tested on
plain values. Each rule returns :class:`Clash`es rather than raising, so that one
booking reports every reason at once and a bulk booking can skip and explain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from scheduler.bookings.unavailability.domain import Unavailable, blocking
from scheduler.timetables.calendar import CalendarError, SchoolCalendar
from scheduler.timetables.occurrences import Lesson, Occurrence, expand
from telepresence.platform.errors import InvalidInput

__all__ = [
    "Clash",
    "DeviceFacts",
    "Overlap",
    "PupilFacts",
    "clashes_of",
    "find_occurrence",
]


@dataclass(frozen=True, slots=True)
class Clash:
    """One reason an occurrence cannot be booked; ``field`` names the input it concerns."""

    field: str
    message: str

    def as_error(self) -> dict[str, Any]:
        """The ``{"field", "message"}`` form of problem+json ``errors``."""
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True, slots=True)
class PupilFacts:
    """What the rules need of the pupil: their name, school, calendar and unavailability."""

    name: str
    school_id: str
    calendar: SchoolCalendar
    unavailable: Sequence[Unavailable]

    def when(self, instant: datetime) -> str:
        """``HH:MM`` in the school's zone."""
        return f"{instant.astimezone(self.calendar.zone):%H:%M}"

    def label(self, subject: str, occ: Occurrence) -> str:
        """``Maths on Mon 07 Dec at 09:00``."""
        return f"{subject} on {occ.date:%a %d %b} at {occ.start_local:%H:%M}"


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """A chosen device as the rules see it; ``field`` is the request field that chose it."""

    id: str
    field: str
    kind: str
    name: str
    lifecycle: str
    school_id: str | None


@dataclass(frozen=True, slots=True)
class Overlap:
    """A live booking that may overlap: the pupil's own, or another pupil's on a device."""

    lesson_key: str
    lesson_date: date
    subject: str
    starts_at: datetime
    ends_at: datetime
    pupil_name: str = ""

    def overlaps(self, occ: Occurrence) -> bool:
        """Whether this booking's time meets ``occ``'s (touching ends do not)."""
        return self.starts_at < occ.end and self.ends_at > occ.start


def find_occurrence(calendar: SchoolCalendar, lesson: Lesson, day: date) -> Occurrence | Clash:
    """The lesson's occurrence on ``day``, or the closure / non-school day that prevents it.

    Raises ``InvalidInput`` when the lesson simply does not fall on that day.
    """
    try:
        found = expand([lesson], calendar, day, day)
    except CalendarError as exc:
        return Clash("date", str(exc))
    if found:
        return found[0]
    closure = calendar.closure_on(day)
    if closure is not None:
        return Clash("date", f"the school is closed on {day:%a %d %b %Y} ({closure.name})")
    if not calendar.is_school_day(day):
        return Clash("date", f"{day:%a %d %b %Y} is not a school day")
    raise InvalidInput(
        f"{lesson.subject} does not take place on {day:%a %d %b %Y}.",
        errors=[{"field": "date", "message": "no such occurrence"}],
    )


def _pupil_clashes(
    pupil: PupilFacts, lesson: Lesson, occ: Occurrence, own: Iterable[Overlap], now: datetime
) -> list[Clash]:
    clashes = []
    if occ.start <= now:
        clashes.append(Clash("date", f"{pupil.label(lesson.subject, occ)} is in the past"))
    for other in own:
        if not other.overlaps(occ):
            continue
        same = other.lesson_key == occ.lesson_key and other.lesson_date == occ.date
        what = "this lesson" if same else f"{other.subject} {pupil.when(other.starts_at)}"
        clashes.append(Clash("pupil", f"{pupil.name} is already booked into {what}"))
    clashes += [
        Clash("unavailability", f"{pupil.name} is unavailable: {u.describe(pupil.calendar.zone)}")
        for u in blocking(pupil.unavailable, occ)
    ]
    return clashes


def _device_clashes(
    pupil: PupilFacts, device: DeviceFacts, occ: Occurrence, others: Iterable[Overlap]
) -> list[Clash]:
    what = f"{device.kind.capitalize()} {device.name}"
    field = device.field
    clashes = []
    if device.lifecycle != "active":
        state = "in maintenance" if device.lifecycle == "maintenance" else device.lifecycle
        clashes.append(Clash(field, f"{what} is {state}"))
    if field == "classroom_device_id" and device.school_id not in (None, pupil.school_id):
        clashes.append(Clash(field, f"{what} belongs to another school"))
    clashes += [
        Clash(
            field,
            f"{what} is booked for {other.pupil_name} "
            f"{pupil.when(other.starts_at)}-{pupil.when(other.ends_at)} ({other.subject})",
        )
        for other in others
        if other.overlaps(occ)
    ]
    return clashes


def clashes_of(
    pupil: PupilFacts,
    lesson: Lesson,
    occ: Occurrence,
    devices: Sequence[DeviceFacts],
    own: Iterable[Overlap],
    others: Mapping[str, Iterable[Overlap]],
    now: datetime,
) -> list[Clash]:
    """Every reason the pupil cannot be booked into ``occ`` with ``devices`` at ``now``.

    ``own`` are the pupil's live bookings and ``others[device_id]`` other pupils'
    live bookings of each device, over any span that covers ``occ`` (those that do
    not overlap it are ignored). Order: the pupil's clashes, then each device's
    in the order given (classroom end first).
    """
    found = _pupil_clashes(pupil, lesson, occ, own, now)
    for device in devices:
        found += _device_clashes(pupil, device, occ, others.get(device.id, ()))
    return found
