"""Where a lesson's classroom robot probably is, and who is told when it is probably not there.

A robot is *probably elsewhere* when the move that should have taken it to the
lesson's room was not confirmed (and nobody has put it there since), when its
last known room is another one, or when it reports another room itself. The
pupil's tablet and anyone watching see a gentle warning; when the pupil joins,
the pupil's home school contacts (accounts of role ``school_contact`` invited
for the pupil, else the school's contact address) and key worker get one
notice per lesson.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from scheduler.bookings.models import Booking
from scheduler.rota.models import MoveRow
from telepresence.organisation.services import display_name
from telepresence.platform.events.notifier import Notice
from telepresence.platform.models import Pupil, Room, School, User
from telepresence.platform.security.identity import Role
from telepresence.reintegration.models import SchoolContactLink

__all__ = [
    "Whereabouts",
    "elsewhere_notices",
    "probably_elsewhere",
    "robot_whereabouts",
]

LESSON_MOVES = ("to_lesson", "from_base")
"""Reasons of the moves that take a robot to a lesson's room."""


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """The lesson's room, its robot, and why the robot is probably not there (or None)."""

    booking_id: str
    lesson_room: str
    robot_name: str
    why: str | None

    @property
    def elsewhere(self) -> bool:
        """Whether the robot is probably not in the lesson's room."""
        return self.why is not None

    def for_pupil(self) -> str:
        """The gentle words on the pupil's tablet."""
        return f"{self.robot_name} might not be in {self.lesson_room} yet."

    def for_staff(self) -> str:
        """The words for staff watching: what the robot's state says."""
        return f"The robot may not be in {self.lesson_room}: {self.why}."


def _same(a: str | None, b: str) -> bool:
    return bool(a) and a.strip().casefold() == b.strip().casefold()  # type: ignore[union-attr]


def probably_elsewhere(
    lesson_room: str,
    *,
    last_room: str | None,
    reported_room: str | None,
    move_status: str | None,
    move_failure: str | None = None,
    contradiction: str | None = None,
) -> str | None:
    """Why the robot is probably not in ``lesson_room``, in words for staff; None if no sign.

    ``last_room`` is its last known room (a confirmed move or staff), ``reported_room``
    what it reports itself, ``move_status`` that of the move to this lesson (None: no
    move was needed or planned). With no room named, or nothing known, there is no sign.
    """
    if not lesson_room.strip():
        return None
    why = None
    if reported_room and not _same(reported_room, lesson_room):
        why = f"it reports being in {reported_room}"
    elif contradiction:
        why = contradiction
    elif move_status is not None and move_status != "done" and not _same(last_room, lesson_room):
        where = f"; last known in {last_room}" if last_room else ""
        if move_status == "failed":
            said = f" ({move_failure})" if move_failure else ""
            why = f"its move there could not be done{said}{where}"
        else:
            why = f"its move there was not confirmed{where}"
    elif move_status is None and last_room and not _same(last_room, lesson_room):
        why = f"it was last known in {last_room}"
    return why


async def robot_whereabouts(db: AsyncSession, booking: Booking) -> Whereabouts:
    """Where the booking's classroom robot probably is, from the rota and the device's state."""
    robot = await db.get(Device, booking.classroom_device_id)
    if robot is None:
        return Whereabouts(booking.id, booking.room, "The robot", None)
    last = await db.get(Room, robot.last_known_room_id) if robot.last_known_room_id else None
    move = await db.scalar(
        select(MoveRow)
        .where(MoveRow.booking_id == booking.id, MoveRow.reason.in_(LESSON_MOVES))
        .order_by(MoveRow.updated_at.desc())
        .limit(1)
    )
    why = probably_elsewhere(
        booking.room,
        last_room=last.name if last else None,
        reported_room=robot.reported_room,
        move_status=move.status if move else None,
        move_failure=move.status_reason if move else None,
        contradiction=move.contradiction if move else None,
    )
    return Whereabouts(booking.id, booking.room, robot.name, why)


async def _recipients(
    db: AsyncSession, pupil: Pupil, school: School
) -> list[tuple[str | None, str | None, str | None]]:
    """(user id, email, link) of the pupil's school contacts and key worker; the school's
    contact address stands in when no school contact was invited."""
    contacts = list(
        await db.scalars(
            select(User)
            .join(SchoolContactLink, SchoolContactLink.user_id == User.id)
            .where(
                SchoolContactLink.pupil_id == pupil.id,
                User.role == Role.SCHOOL_CONTACT.value,
                User.active.is_(True),
            )
            .order_by(User.id)
        )
    )
    found: list[tuple[str | None, str | None, str | None]] = [
        (u.id, u.email, "/school") for u in contacts
    ]
    if not contacts and school.contact_email:
        found.append((None, school.contact_email, None))
    worker = await db.get(User, pupil.key_worker_id) if pupil.key_worker_id else None
    if worker is not None and worker.active:
        found.append((worker.id, worker.email, "/watch"))
    return found


async def elsewhere_notices(db: AsyncSession, booking: Booking, where: Whereabouts) -> list[Notice]:
    """One notice per person to tell that the robot is probably not in the lesson's room
    (none when it probably is); keyed per lesson and person, so a rejoin sends nothing new."""
    if not where.elsewhere:
        return []
    pupil = await db.get(Pupil, booking.pupil_id)
    school = await db.get(School, booking.school_id)
    if pupil is None or school is None:
        return []
    starts = booking.starts_at.astimezone(ZoneInfo(school.time_zone)).strftime("%H:%M")
    name = display_name(pupil.first_name, pupil.last_name)
    subject = f"Robot '{where.robot_name}' may not be in {where.lesson_room} for {name}"
    body = (
        f"{name} is joining {booking.subject} ({starts}, {where.lesson_room}) from hospital, "
        f"but the robot '{where.robot_name}' may not be in {where.lesson_room}: {where.why}. "
        "Please check the room and bring the robot if it is not there."
    )
    return [
        Notice(
            idempotency_key=f"robot-not-in-room:{booking.id}:{user_id or email}",
            kind="robot_not_in_room",
            subject=subject[:200],
            body=body,
            user_id=user_id,
            email=email,
            link=link,
        )
        for user_id, email, link in await _recipients(db, pupil, school)
    ]
