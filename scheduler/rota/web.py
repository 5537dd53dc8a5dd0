"""HTTP API of the move rota: duty, absences, walking times, the day's rota, confirmations.

Staff (admin, coordinator, hospital staff) of the provider see and edit any
of its schools' rotas; an assistant sees their own school's rota, confirms
their own moves and manages their own calendar link. Every change is in the
audit log; re-plans are announced (``rota:{school}``) after the commit.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.rota import actions as rota_actions
from scheduler.rota import config as rota_config
from scheduler.rota import services as rota_services
from scheduler.rota.listener import announce_outcomes
from scheduler.rota.models import AbsenceRow
from scheduler.rota.reading.views import MoveView, RotaDay, day_rota, local_today
from scheduler.rota.schemas import (
    AbsenceIn,
    AbsenceOut,
    AssignIn,
    BaseRoomIn,
    CantDoIn,
    ConfirmIn,
    DateQuery,
    DutyIn,
    DutyOut,
    FeedOut,
    MoveOut,
    RotaOut,
    WalkingIn,
    WalkingOut,
)
from telepresence.platform.http.context import CLOCK, DATABASE, SETTINGS
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import Room, User
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import STAFF, Principal, Role
from telepresence.platform.security.permissions import check_may_change

__all__ = ["move_out", "rota_out", "routes"]

routes = Routes("rota")
STAFF_ROLES = sorted(STAFF)
READERS = [*STAFF_ROLES, Role.ASSISTANT]


def move_out(view: MoveView, viewer: Principal | None = None) -> MoveOut:
    """A move as the API shows it (pupil as first name and initial).

    "Can't do it" reasons may be about health ("off sick today"): an assistant
    sees only their own; staff see all.
    """
    row = view.row
    declines, status_reason = view.declined, row.status_reason
    if viewer is not None and viewer.role is Role.ASSISTANT:
        declines = [
            line
            for line, sayer in zip(declines, view.decliner_ids, strict=True)
            if sayer == viewer.subject_id
        ]
        status_reason = view.status_reason_for(viewer.subject_id)
    return MoveOut(
        id=row.id,
        date=row.local_date,
        summary=view.summary,
        device_id=row.device_id,
        device_name=view.device_name,
        reason=row.reason,
        from_room=row.from_room_name,
        to_room=row.to_room_name,
        earliest=row.earliest,
        due=row.due,
        due_local=view.local(row.due),
        departs_at=row.departs_at,
        assistant_id=row.assistant_id,
        assistant_name=view.assistant_name,
        pinned=row.pinned,
        status=row.status,
        display_status=view.status,
        status_reason=status_reason,
        pupil=view.pupil,
        confirmed_at=row.confirmed_at,
        confirmed_by=view.confirmed_by_name,
        contradiction=row.contradiction,
        minutes_left=view.minutes_left,
        version=row.version,
        declines=declines,
    )


def rota_out(rota: RotaDay, viewer: Principal | None = None) -> RotaOut:
    """A school day's rota as the API shows it (to ``viewer``: see ``move_out``)."""
    return RotaOut(
        school_id=rota.school.id,
        date=rota.day,
        time_zone=rota.school.time_zone,
        moves=[move_out(m, viewer) for m in rota.moves],
        unassigned=len(rota.unassigned),
        changes=rota.changes,
        battery_warnings=rota.battery,
    )


@routes.api(
    "GET",
    "/api/schools/{school_id}/rota",
    roles=READERS,
    query=DateQuery,
    response=RotaOut,
    errors=(404, 422),
    summary="A school day's moves (default today), planned on first look",
)
async def get_rota(request: web.Request, who: Principal, query: DateQuery) -> RotaOut:
    """Assistants only see their own school's rota."""
    async with request.app[DATABASE].transaction() as session:
        now, school_id = request.app[CLOCK].now(), request.match_info["school_id"]
        rota, outcome = await day_rota(session, who, school_id, query.date, now, battery=True)
    await announce_outcomes(request.app, [outcome] if outcome else [])
    return rota_out(rota, who)


@routes.api(
    "POST",
    "/api/schools/{school_id}/rota/replan",
    roles=STAFF_ROLES,
    query=DateQuery,
    response=RotaOut,
    errors=(404, 422),
    summary="Re-plan a school day now (keeps done moves, pins and moves under way)",
)
async def replan_rota(request: web.Request, who: Principal, query: DateQuery) -> RotaOut:
    """Normally unnecessary: booking changes, absences and pins re-plan by themselves."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        school = await rota_services.visible_school(session, who, request.match_info["school_id"])
        day = query.date or local_today(school, now)
        outcomes = await rota_services.replan_days(session, school.id, [day], now)
        record_request(request, session, who, "rota.replan", "school", school.id)
        rota, _ = await day_rota(session, who, school.id, day, now)
    await announce_outcomes(request.app, outcomes)
    return rota_out(rota, who)


async def _move_result(request: web.Request, who: Principal, move_id: str) -> MoveOut:
    async with request.app[DATABASE].sessions() as session:
        now = request.app[CLOCK].now()
        row = await rota_services.visible_move(session, who, move_id)
        rota, _ = await day_rota(session, who, row.school_id, row.local_date, now)
    return move_out(next(m for m in rota.moves if m.row.id == move_id), who)


@routes.api(
    "POST",
    "/api/moves/{move_id}/done",
    roles=READERS,
    body=ConfirmIn,
    response=MoveOut,
    errors=(404, 409, 422),
    summary="Confirm a move done (the device is now in the room); idempotent",
)
async def confirm_move(request: web.Request, who: Principal, body: ConfirmIn) -> MoveOut:
    """409 for someone else's move, or one reassigned since ``version``."""
    move_id = request.match_info["move_id"]
    await rota_actions.confirm(request, who, move_id, body.version)
    return await _move_result(request, who, move_id)


@routes.api(
    "POST",
    "/api/moves/{move_id}/undo",
    roles=READERS,
    body=ConfirmIn,
    response=MoveOut,
    errors=(404, 409, 422),
    summary="Take back a 'Done' made in the last few minutes: the move is open again",
)
async def undo_move(request: web.Request, who: Principal, body: ConfirmIn) -> MoveOut:
    """409 for a move not done, done by someone else, or done too long ago."""
    move_id = request.match_info["move_id"]
    await rota_actions.undo(request, who, move_id, body.version)
    return await _move_result(request, who, move_id)


@routes.api(
    "POST",
    "/api/moves/{move_id}/cant",
    roles=READERS,
    body=CantDoIn,
    response=MoveOut,
    errors=(404, 409, 422),
    summary="Report that a move cannot be done: offered to someone else, or escalated",
)
async def cant_do_move(request: web.Request, who: Principal, body: CantDoIn) -> MoveOut:
    """Another on-duty assistant gets it at once; with nobody else it is escalated."""
    move_id = request.match_info["move_id"]
    await rota_actions.report_cant(request, who, move_id, body.reason, body.version)
    return await _move_result(request, who, move_id)


@routes.api(
    "PUT",
    "/api/moves/{move_id}/assignment",
    roles=STAFF_ROLES,
    body=AssignIn,
    response=MoveOut,
    errors=(404, 409, 422),
    summary="Give a move to an assistant by hand (pinned), or unpin it with null",
)
async def assign_move(request: web.Request, who: Principal, body: AssignIn) -> MoveOut:
    """The planner keeps a pin, or flags it with the reason it cannot be done."""
    move_id = request.match_info["move_id"]
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        row, outcome = await rota_services.pin_move(
            session, who, move_id, body.assistant_id, body.version, now
        )
        details = {"assistant_id": body.assistant_id}
        record_request(request, session, who, "move.assign", "move", row.id, details)
    await announce_outcomes(request.app, [outcome])
    return await _move_result(request, who, move_id)


@routes.api(
    "GET",
    "/api/assistants/{user_id}/duty",
    roles=READERS,
    response=DutyOut,
    errors=(404,),
    summary="An assistant's weekly duty patterns, daily cap and phone",
)
async def get_duty(request: web.Request, who: Principal) -> DutyOut:
    """Staff of the provider, or the assistant themself."""
    async with request.app[DATABASE].sessions() as session:
        user = await rota_config.assistant_of(session, who, request.match_info["user_id"])
        return await _duty_out(session, user)


async def _duty_out(session: AsyncSession, user: User) -> DutyOut:
    patterns, settings = await rota_config.get_duty(session, user)
    base_id = settings.base_room_id if settings else None
    base = await session.get(Room, base_id) if base_id else None
    return DutyOut(
        user_id=user.id,
        name=user.name,
        school_id=user.school_id or "",
        patterns=patterns,
        max_moves_per_day=settings.max_moves_per_day if settings else None,
        phone=settings.phone if settings else None,
        base_room_id=base.id if base else None,
        base_room=base.name if base else None,
    )


@routes.api(
    "PUT",
    "/api/assistants/{user_id}/base-room",
    roles=STAFF_ROLES,
    body=BaseRoomIn,
    response=DutyOut,
    errors=(403, 404, 422),
    summary="Set the room an assistant starts their duty from (null: unknown)",
)
async def put_base_room(request: web.Request, who: Principal, body: BaseRoomIn) -> DutyOut:
    """422 ``room_id`` for a room not of the assistant's school; the fortnight is re-planned."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        user = await rota_config.assistant_of(session, who, request.match_info["user_id"])
        await check_may_change(session, who, "change the rota's settings")
        await rota_config.set_base_room(session, user, body.room_id)
        outcomes = await rota_services.replan_ahead(session, user.school_id, now)
        record_request(request, session, who, "rota.base_room", "user", user.id)
        out = await _duty_out(session, user)
    await announce_outcomes(request.app, outcomes)
    return out


@routes.api(
    "PUT",
    "/api/assistants/{user_id}/duty",
    roles=STAFF_ROLES,
    body=DutyIn,
    response=DutyOut,
    errors=(403, 404, 422),
    summary="Replace an assistant's duty patterns (422 names an overlap or a reversed time)",
)
async def put_duty(request: web.Request, who: Principal, body: DutyIn) -> DutyOut:
    """The coming fortnight of the assistant's school is re-planned."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        user = await rota_config.assistant_of(session, who, request.match_info["user_id"])
        await check_may_change(session, who, "change the rota's settings")
        await rota_config.put_duty(session, user, body, now)
        outcomes = await rota_services.replan_ahead(session, user.school_id, now)
        record_request(request, session, who, "rota.duty", "user", user.id)
        out = await _duty_out(session, user)
    await announce_outcomes(request.app, outcomes)
    return out


def _absence_out(row: AbsenceRow, replanned_days: int = 0) -> AbsenceOut:
    return AbsenceOut(
        id=row.id,
        user_id=row.user_id,
        start_date=row.start_date,
        end_date=row.end_date,
        reason=row.reason,
        replanned_days=replanned_days,
    )


@routes.api(
    "POST",
    "/api/assistants/{user_id}/absences",
    roles=STAFF_ROLES,
    body=AbsenceIn,
    response=AbsenceOut,
    status=201,
    errors=(403, 404, 422),
    summary="Record an assistant's absence (off sick today): their moves go to others",
)
async def add_absence(request: web.Request, who: Principal, body: AbsenceIn) -> AbsenceOut:
    """Re-plans the absence's days that are today or ahead (at most a fortnight)."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        user = await rota_config.assistant_of(session, who, request.match_info["user_id"])
        await check_may_change(session, who, "change the rota's settings")
        row = await rota_config.add_absence(session, who, user, body, now)
        span = (body.end_date - body.start_date).days + 1
        days = [body.start_date + timedelta(days=i) for i in range(min(span, 15))]
        outcomes = await rota_services.replan_days(session, row.school_id, days, now)
        record_request(request, session, who, "rota.absence", "user", user.id)
    await announce_outcomes(request.app, outcomes)
    return _absence_out(row, replanned_days=len(outcomes))


@routes.api(
    "GET",
    "/api/assistants/{user_id}/absences",
    roles=READERS,
    response=list[AbsenceOut],
    errors=(404,),
    summary="An assistant's absences from today on",
)
async def list_absences(request: web.Request, who: Principal) -> list[AbsenceOut]:
    """Staff of the provider, or the assistant themself."""
    async with request.app[DATABASE].sessions() as session:
        user = await rota_config.assistant_of(session, who, request.match_info["user_id"])
        rows = await rota_config.list_absences(session, user, request.app[CLOCK].now().date())
    return [_absence_out(r) for r in rows]


@routes.api(
    "PUT",
    "/api/schools/{school_id}/walking",
    roles=STAFF_ROLES,
    body=WalkingIn,
    response=WalkingOut,
    errors=(403, 404, 422),
    summary="Replace a school's walking times and per-pair overrides (unknown rooms: 422)",
)
async def put_walking(request: web.Request, who: Principal, body: WalkingIn) -> WalkingOut:
    """Plans made from now on use the new times; existing assignments stay."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        school = await rota_config.put_walking(
            session, who, request.match_info["school_id"], body, now
        )
        await check_may_change(session, who, "change the rota's settings")
        record_request(request, session, who, "rota.walking", "school", school.id)
    return WalkingOut(school_id=school.id, **body.model_dump())


@routes.api(
    "POST",
    "/api/assistants/{user_id}/feed",
    roles=[Role.ASSISTANT, Role.ADMIN],
    response=FeedOut,
    status=201,
    errors=(404,),
    summary="A new secret calendar (iCal) link of an assistant's moves; older links stop",
)
async def new_feed(request: web.Request, who: Principal) -> FeedOut:
    """The link is shown once; only its digest is stored."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        user = await rota_config.assistant_of(session, who, request.match_info["user_id"])
        token = await rota_config.new_feed(session, user, now)
        record_request(request, session, who, "rota.feed_new", "user", user.id)
    base = request.app[SETTINGS].base_url.rstrip("/")
    return FeedOut(url=f"{base}/feeds/assistants/{token}.ics", created_at=now)


@routes.api(
    "DELETE",
    "/api/assistants/{user_id}/feed",
    roles=[Role.ASSISTANT, Role.ADMIN],
    errors=(404,),
    summary="Revoke an assistant's calendar links (they stop working at once)",
)
async def revoke_feed(request: web.Request, who: Principal) -> None:
    """Answers 204 even when there was no link."""
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        user = await rota_config.assistant_of(session, who, request.match_info["user_id"])
        await rota_config.revoke_feeds(session, user, now)
        record_request(request, session, who, "rota.feed_revoke", "user", user.id)
