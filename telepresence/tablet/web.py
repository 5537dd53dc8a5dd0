"""The tablet's and the watch page's question during a lesson: is the robot in the room?"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from scheduler.bookings.models import Booking
from telepresence.platform.errors import NotFound
from telepresence.platform.http.context import DATABASE
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import Pupil
from telepresence.platform.security.identity import STAFF, Principal, Role
from telepresence.tablet.whereabouts import robot_whereabouts

__all__ = ["RobotRoomOut", "routes"]

routes = Routes("tablet")


class RobotRoomOut(BaseModel):
    """Whether a lesson's robot is probably in the lesson's room, and the words to show."""

    lesson_room: str
    robot: str
    probably_elsewhere: bool
    warning: str | None = Field(
        description="For the pupil: gentle words; for staff: what the robot's state says. "
        "None when the robot is probably in the room (or nothing is known)."
    )


@routes.api(
    "GET",
    "/api/bookings/{booking_id}/robot-room",
    roles=[Role.PUPIL, *STAFF],
    response=RobotRoomOut,
    errors=(404,),
    summary="Is the lesson's robot probably in the lesson's room? (asked again during a lesson)",
)
async def robot_room(request: web.Request, who: Principal) -> RobotRoomOut:
    """The pupil's own bookings, or any of the staff's provider; the warning follows the rota
    (a move confirmed since) and the robot's room as staff set it."""
    async with request.app[DATABASE].sessions() as db:
        booking = await db.get(Booking, request.match_info["booking_id"])
        pupil = await db.get(Pupil, booking.pupil_id) if booking else None
        visible = (
            booking is not None
            and pupil is not None
            and (
                booking.pupil_id == who.subject_id
                if who.role is Role.PUPIL
                else pupil.provider_id == who.provider_id
            )
        )
        if not visible or booking is None:
            raise NotFound("There is no such lesson for you.")
        where = await robot_whereabouts(db, booking)
    words = where.for_pupil() if who.role is Role.PUPIL else where.for_staff()
    return RobotRoomOut(
        lesson_room=where.lesson_room,
        robot=where.robot_name,
        probably_elsewhere=where.elsewhere,
        warning=words if where.elsewhere else None,
    )
