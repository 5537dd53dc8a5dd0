"""HTTP API for schools, rooms, pupils and staff accounts."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from scheduler.bookings.events import HubBookingEvents
from scheduler.rota.listener import announce_outcomes
from telepresence.organisation import roll, services
from telepresence.organisation.schemas import (
    CameraConsentIn,
    OffRollOut,
    PinIn,
    PupilCameraIn,
    PupilIn,
    PupilOut,
    PupilPatch,
    RoomIn,
    RoomOut,
    SchoolIn,
    SchoolOut,
    UserCreatedOut,
    UserIn,
    UserOut,
)
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import Pupil, Room, School, User
from telepresence.platform.security import auth
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import STAFF, Principal, Role
from telepresence.platform.security.revocation import Identity, revoke_identity

__all__ = ["pupil_out", "routes"]

routes = Routes("organisation")
ADMIN = [Role.ADMIN]
PUPIL_EDITORS = [Role.ADMIN, Role.HOSPITAL_STAFF]
SCHOOL_SETTERS = [Role.ADMIN, Role.COORDINATOR]
SCHOOL_READERS = [*STAFF, Role.ASSISTANT]


def school_out(s: School) -> SchoolOut:
    """The API view of a school."""
    return SchoolOut(
        id=s.id,
        name=s.name,
        time_zone=s.time_zone,
        contact_email=s.contact_email,
        allow_pupil_camera=s.allow_pupil_camera,
    )


def pupil_out(p: Pupil) -> PupilOut:
    """The API view of a pupil (staff only)."""
    return PupilOut(
        id=p.id,
        first_name=p.first_name,
        last_name=p.last_name,
        display_name=services.display_name(p.first_name, p.last_name),
        school_id=p.school_id,
        year_group=p.year_group,
        key_worker_id=p.key_worker_id,
        parent_consent=p.parent_consent,
        class_informed=p.class_informed,
        camera_consent=p.camera_consent,
        camera_consent_by=p.camera_consent_by,
        camera_consent_on=p.camera_consent_on,
        pupil_code=p.pupil_code,
        has_pin=p.pin_hash is not None,
        active=p.active,
    )


def room_out(r: Room) -> RoomOut:
    """The API view of a room."""
    return RoomOut(id=r.id, school_id=r.school_id, name=r.name, building=r.building, floor=r.floor)


def user_out(u: User) -> UserOut:
    """The API view of an account."""
    return UserOut(
        id=u.id,
        email=u.email,
        name=u.name,
        role=Role(u.role),
        school_id=u.school_id,
        active=u.active,
        created_at=u.created_at,
    )


@routes.api(
    "GET",
    "/api/schools",
    roles=SCHOOL_READERS,
    response=list[SchoolOut],
    summary="Home schools of the provider",
)
async def list_schools(request: web.Request, who: Principal) -> list[SchoolOut]:
    """Assistants see only their own school."""
    async with request.app[DATABASE].sessions() as session:
        return [school_out(s) for s in await services.list_schools(session, who)]


@routes.api(
    "POST",
    "/api/schools",
    roles=ADMIN,
    body=SchoolIn,
    response=SchoolOut,
    status=201,
    summary="Add a home school",
)
async def add_school(request: web.Request, who: Principal, body: SchoolIn) -> SchoolOut:
    """A school with its IANA time zone."""
    async with request.app[DATABASE].transaction() as session:
        school = await services.add_school(session, who, body, request.app[CLOCK].now())
        record_request(request, session, who, "school.add", "school", school.id)
        return school_out(school)


@routes.api(
    "PUT",
    "/api/schools/{school_id}/pupil-camera",
    roles=SCHOOL_SETTERS,
    body=PupilCameraIn,
    response=SchoolOut,
    errors=(404,),
    summary="Allow or stop pupils' cameras in this school's lessons (audited)",
)
async def set_pupil_camera(request: web.Request, who: Principal, body: PupilCameraIn) -> SchoolOut:
    """A pupil's camera needs this and the pupil's consent; applies from their next join."""
    async with request.app[DATABASE].transaction() as session:
        school, changed = await services.set_pupil_camera(
            session, who, request.match_info["school_id"], body.allowed
        )
        if changed:
            record_request(
                request,
                session,
                who,
                "school.pupil_camera",
                "school",
                school.id,
                {"allowed": body.allowed},
            )
        return school_out(school)


@routes.api(
    "GET",
    "/api/schools/{school_id}/rooms",
    roles=SCHOOL_READERS,
    response=list[RoomOut],
    errors=(404,),
    summary="Rooms of a school",
)
async def list_rooms(request: web.Request, who: Principal) -> list[RoomOut]:
    """By building, floor and name."""
    async with request.app[DATABASE].sessions() as session:
        rooms = await services.list_rooms(session, who, request.match_info["school_id"])
        return [room_out(r) for r in rooms]


@routes.api(
    "POST",
    "/api/schools/{school_id}/rooms",
    roles=ADMIN,
    body=RoomIn,
    response=RoomOut,
    status=201,
    errors=(404, 409),
    summary="Add a room to a school",
)
async def add_room(request: web.Request, who: Principal, body: RoomIn) -> RoomOut:
    """Room names are unique within a school (ignoring case)."""
    async with request.app[DATABASE].transaction() as session:
        room = await services.add_room(session, who, request.match_info["school_id"], body)
        record_request(request, session, who, "room.add", "room", room.id)
        return room_out(room)


@routes.api(
    "GET",
    "/api/pupils",
    roles=STAFF,
    response=list[PupilOut],
    summary="Pupils on the provider's roll",
)
async def list_pupils(request: web.Request, who: Principal) -> list[PupilOut]:
    """Reading the roll is audited."""
    async with request.app[DATABASE].transaction() as session:
        pupils = await services.list_pupils(session, who)
        record_request(request, session, who, "pupil.list", "pupil", "*", {"count": len(pupils)})
        return [pupil_out(p) for p in pupils]


@routes.api(
    "POST",
    "/api/pupils",
    roles=PUPIL_EDITORS,
    body=PupilIn,
    response=PupilOut,
    status=201,
    errors=(404,),
    summary="Put a pupil on roll",
)
async def add_pupil(request: web.Request, who: Principal, body: PupilIn) -> PupilOut:
    """The pupil gets a pupil code; set a PIN before they can sign in."""
    async with request.app[DATABASE].transaction() as session:
        pupil = await services.register_pupil(session, who, body, request.app[CLOCK].now())
        record_request(request, session, who, "pupil.add", "pupil", pupil.id)
        return pupil_out(pupil)


@routes.api(
    "GET",
    "/api/pupils/{pupil_id}",
    roles=STAFF,
    response=PupilOut,
    errors=(404,),
    summary="One pupil's record (the read is audited)",
)
async def get_pupil(request: web.Request, who: Principal) -> PupilOut:
    """Every read of a pupil's record is in the audit log."""
    async with request.app[DATABASE].transaction() as session:
        pupil = await services.get_pupil(session, who, request.match_info["pupil_id"])
        record_request(request, session, who, "pupil.read", "pupil", pupil.id)
        return pupil_out(pupil)


@routes.api(
    "PATCH",
    "/api/pupils/{pupil_id}",
    roles=PUPIL_EDITORS,
    body=PupilPatch,
    response=PupilOut,
    errors=(404,),
    summary="Change a pupil's record",
)
async def patch_pupil(request: web.Request, who: Principal, body: PupilPatch) -> PupilOut:
    """Deactivating a pupil signs their tablet out at once."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        pupil = await services.update_pupil(session, who, request.match_info["pupil_id"], body)
        if body.active is False:
            await revoke_identity(request.app, session, Identity.PUPIL, pupil.id, now)
        record_request(
            request,
            session,
            who,
            "pupil.update",
            "pupil",
            pupil.id,
            {"fields": sorted(body.model_dump(exclude_unset=True))},
        )
        return pupil_out(pupil)


@routes.api(
    "PUT",
    "/api/pupils/{pupil_id}/camera-consent",
    roles=STAFF,
    body=CameraConsentIn,
    response=PupilOut,
    errors=(403, 404),
    summary="Record a pupil's consent to their camera in lessons (audited)",
)
async def set_camera_consent(
    request: web.Request, who: Principal, body: CameraConsentIn
) -> PupilOut:
    """The camera also needs the home school's setting; applies from the pupil's next join."""
    async with request.app[DATABASE].transaction() as session:
        pupil, changed = await services.set_camera_consent(
            session,
            who,
            request.match_info["pupil_id"],
            body.consent,
            given_by=body.given_by,
            given_on=body.given_on,
        )
        if changed:
            record_request(
                request,
                session,
                who,
                "pupil.camera_consent",
                "pupil",
                pupil.id,
                {"consent": body.consent},
            )
        return pupil_out(pupil)


@routes.api(
    "PUT",
    "/api/pupils/{pupil_id}/pin",
    roles=PUPIL_EDITORS,
    body=PinIn,
    status=204,
    errors=(404,),
    summary="Set a pupil's tablet PIN (signs out their sessions)",
)
async def set_pin(request: web.Request, who: Principal, body: PinIn) -> None:
    """The old PIN and every session signed in with it stop working."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        pupil = await services.get_pupil(session, who, request.match_info["pupil_id"])
        pupil.pin_hash = await auth.hash_secret(body.pin)
        await revoke_identity(request.app, session, Identity.PUPIL, pupil.id, now)
        record_request(request, session, who, "pupil.set_pin", "pupil", pupil.id)


@routes.api(
    "GET",
    "/api/users",
    roles=ADMIN,
    response=list[UserOut],
    summary="Staff and assistant accounts of the provider",
)
async def list_users(request: web.Request, who: Principal) -> list[UserOut]:
    """By name."""
    async with request.app[DATABASE].sessions() as session:
        users = await session.scalars(
            select(User).where(User.provider_id == who.provider_id).order_by(User.name)
        )
        return [user_out(u) for u in users]


@routes.api(
    "POST",
    "/api/users",
    roles=ADMIN,
    body=UserIn,
    response=UserCreatedOut,
    status=201,
    errors=(409,),
    summary="Create a staff or assistant account",
)
async def add_user(request: web.Request, who: Principal, body: UserIn) -> UserCreatedOut:
    """Without a password one is generated and shown once."""
    async with request.app[DATABASE].transaction() as session:
        user, password = await services.add_user(
            session, who.provider_id, body, request.app[CLOCK].now()
        )
        record_request(request, session, who, "user.add", "user", user.id, {"role": user.role})
        return UserCreatedOut(**user_out(user).model_dump(), password=password)


@routes.api(
    "POST",
    "/api/users/{user_id}/deactivate",
    roles=ADMIN,
    status=204,
    errors=(404, 409),
    summary="Deactivate an account and revoke its sessions at once",
)
async def deactivate_user(request: web.Request, who: Principal) -> None:
    """The person is signed out everywhere; 409 for one's own account."""
    await _set_active(request, who, active=False)


@routes.api(
    "POST",
    "/api/users/{user_id}/reactivate",
    roles=ADMIN,
    status=204,
    errors=(404,),
    summary="Reactivate a deactivated account (its old sessions stay revoked)",
)
async def reactivate_user(request: web.Request, who: Principal) -> None:
    """The person signs in again with their password."""
    await _set_active(request, who, active=True)


async def _set_active(request: web.Request, who: Principal, *, active: bool) -> None:
    """(De)activate the account in the path, audited; the rotas it is on are re-planned and
    announced after the commit."""
    async with request.app[DATABASE].transaction() as session:
        user = await services.set_user_active(
            request.app, session, who, request.match_info["user_id"], active
        )
        action = "user.reactivate" if active else "user.deactivate"
        record_request(request, session, who, action, "user", user.id)
        outcomes = await services.replan_for(session, user, request.app[CLOCK].now())
    await announce_outcomes(request.app, outcomes)


def _off_roll_out(summary: roll.OffRoll) -> OffRollOut:
    return OffRollOut.model_validate(
        {
            "pupil_id": summary.pupil.id,
            "on_roll": summary.pupil.active,
            "cancelled_bookings": [
                {"id": b.id, "starts_at": b.starts_at, "subject": b.subject, "room": b.room}
                for b in summary.bookings
            ],
            "released_devices": [
                {"id": d.id, "name": d.name, "kind": d.kind} for d in summary.devices
            ],
            "lessons_left_to_end": len(summary.under_way),
        }
    )


@routes.api(
    "GET",
    "/api/pupils/{pupil_id}/off-roll",
    roles=PUPIL_EDITORS,
    response=OffRollOut,
    errors=(404,),
    summary="What taking a pupil off roll would change (nothing changes)",
)
async def off_roll_preview(request: web.Request, who: Principal) -> OffRollOut:
    """The bookings it would cancel, the devices it would release, lessons left to end."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        summary = await roll.off_roll_summary(session, who, request.match_info["pupil_id"], now)
        record_request(request, session, who, "pupil.read", "pupil", summary.pupil.id)
        return _off_roll_out(summary)


@routes.api(
    "POST",
    "/api/pupils/{pupil_id}/off-roll",
    roles=PUPIL_EDITORS,
    response=OffRollOut,
    errors=(404, 409),
    summary="Take a pupil off roll: coming bookings cancelled, devices released, signed out",
)
async def off_roll(request: web.Request, who: Principal) -> OffRollOut:
    """409 when the pupil is already off roll; a lesson under way is left to end."""
    pupil_id, now = request.match_info["pupil_id"], request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        summary, events = await roll.take_off_roll(request.app, session, who, pupil_id, now)
        details = {"cancelled": len(summary.bookings), "released": [d.id for d in summary.devices]}
        record_request(request, session, who, "pupil.off_roll", "pupil", pupil_id, details)
        out = _off_roll_out(summary)
    HubBookingEvents(request.app[EVENTS]).publish(events)
    return out
