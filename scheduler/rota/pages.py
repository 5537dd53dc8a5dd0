"""Pages of the move rota: the assistant's phone page, the staff view, live updates, iCal.

Forms post back here and redirect (no inline script: ``rota.js`` refreshes
the list when a ``rota:{school}`` event arrives, and counts the minutes).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date

from aiohttp import web
from sqlalchemy import select

from scheduler.rota import actions as rota_actions
from scheduler.rota import config as rota_config
from scheduler.rota import services as rota_services
from scheduler.rota.domain.wording import CANT_REASONS, cant_reason, done_too_early
from scheduler.rota.listener import announce_outcomes
from scheduler.rota.loading import load_walking
from scheduler.rota.models import OPEN_STATUSES
from scheduler.rota.planning import rota_topic
from scheduler.rota.reading.advice import with_advice
from scheduler.rota.reading.ical import moves_calendar
from scheduler.rota.reading.views import assistant_moves, day_rota, my_rota
from scheduler.rota.schemas import WalkingIn
from telepresence.platform.errors import Conflict, DomainError, InvalidInput, NotFound
from telepresence.platform.http.context import CLOCK, DATABASE, SETTINGS
from telepresence.platform.http.rendering import form_fields, render
from telepresence.platform.http.routing import Routes
from telepresence.platform.http.streams import relay_topic
from telepresence.platform.models import School
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import PUBLIC, STAFF, Principal, Role
from telepresence.platform.security.permissions import check_may_change, may_change

__all__ = ["assistant_rota", "routes"]

routes = Routes("rota pages")
STAFF_ROLES = sorted(STAFF)
PEOPLE = [*STAFF_ROLES, Role.ASSISTANT]
RECHECK_SECONDS = 10
LABELS = {
    "pending": "Nobody yet",
    "assigned": "To do",
    "reminded": "Reminded",
    "late": "Late",
    "done": "Done",
    "failed": "Couldn't",
    "escalated": "Escalated",
}
OPEN = ("pending", "assigned", "reminded", "late", "escalated")


def _version(form: dict[str, str]) -> int | None:
    text = form.get("version", "")
    return int(text) if text.isdigit() else None


def _back(form: dict[str, str], fallback: str) -> str:
    target = form.get("back", "")
    return target if target.startswith("/") and not target.startswith("//") else fallback


async def assistant_rota(
    request: web.Request,
    who: Principal,
    *,
    feed_url: str = "",
    tomorrow: bool | None = None,
    problem: DomainError | None = None,
) -> web.StreamResponse:
    """The assistant's day: their moves in time order with Done / Can't do it (``/assistant``).

    ``?live=1`` answers only the list (for ``rota.js``), without counting as a look.
    ``?day=tomorrow`` (or ``tomorrow``) shows tomorrow's moves. ``feed_url`` is a
    calendar link just made, shown this once (never from the address bar: a link
    there could be anyone's). ``problem``: what went wrong with the form just sent,
    said atop the page (with its status).
    """
    live = request.query.get("live") == "1"
    if tomorrow is None:
        tomorrow = request.query.get("day") == "tomorrow"
    ahead = 1 if tomorrow else 0
    async with request.app[DATABASE].transaction() as session:
        rota, outcome = await my_rota(
            session, who, request.app[CLOCK].now(), mark_seen=not live and not ahead, ahead=ahead
        )
    await announce_outcomes(request.app, [outcome] if outcome else [])
    here = "/assistant?day=tomorrow" if ahead else "/assistant"
    context = {
        "title": "Tomorrow" if ahead else "Today",
        "rota": rota,
        "labels": LABELS,
        "open": OPEN,
        "reasons": CANT_REASONS,
        "first_name": who.display_name.split(" ")[0],
        "feed_url": feed_url,
        "tomorrow": bool(ahead),
        "here": here,
        "refresh": f"{here}{'&' if ahead else '?'}live=1",
        "errors": [problem.detail] if problem else [],
    }
    template = "rota_live.html" if live else "rota_assistant.html"
    return render(request, who, template, context, status=problem.status if problem else 200)


async def _then_back(
    request: web.Request, who: Principal, form: dict[str, str], act: Awaitable[None]
) -> web.StreamResponse:
    """Do ``act`` and go back to the page the form was on; an assistant whose form was
    refused (stale, too late, no reason) sees why on their own page, not a bare error."""
    back = _back(form, "/assistant")
    try:
        await act
    except (Conflict, InvalidInput) as exc:
        if who.role is not Role.ASSISTANT:
            raise
        return await assistant_rota(request, who, tomorrow="day=tomorrow" in back, problem=exc)
    raise web.HTTPSeeOther(back)


@routes.page("POST", "/rota/moves/{move_id}/done", roles=PEOPLE, summary="Confirm a move (form)")
async def done_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """Back to the page the form was on; far ahead of the move's window, asks first."""
    form = await form_fields(request)
    move_id = request.match_info["move_id"]
    if form.get("sure") != "yes":
        async with request.app[DATABASE].sessions() as session:
            row = await rota_services.visible_move(session, who, move_id)
            now = request.app[CLOCK].now()
            if row.status in OPEN_STATUSES and done_too_early(row.earliest, now):
                rota, _ = await day_rota(session, who, row.school_id, row.local_date, now)
                view = next(m for m in rota.moves if m.row.id == move_id)
                context = {"title": "Done already?", "m": view, "back": _back(form, "/assistant")}
                return render(request, who, "rota_confirm.html", context)
    return await _then_back(
        request, who, form, rota_actions.confirm(request, who, move_id, _version(form))
    )


@routes.page(
    "POST", "/rota/moves/{move_id}/undo", roles=PEOPLE, summary="Take back a 'Done' (form)"
)
async def undo_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """Within a few minutes of "Done" only (then 409 with the reason)."""
    form = await form_fields(request)
    move_id = request.match_info["move_id"]
    return await _then_back(
        request, who, form, rota_actions.undo(request, who, move_id, _version(form))
    )


@routes.page("POST", "/rota/moves/{move_id}/cant", roles=PEOPLE, summary="Can't do a move (form)")
async def cant_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """The reason is required; the move's day is re-planned and the failure escalated."""
    form = await form_fields(request)
    move_id = request.match_info["move_id"]

    async def report() -> None:
        try:
            reason = cant_reason(form.get("choice", ""), form.get("reason", ""))
        except ValueError:
            raise InvalidInput(
                "Pick a reason, or say in a few words why the move cannot be done."
            ) from None
        if len(reason) > 300:
            raise InvalidInput("Say it in at most 300 characters.")
        await rota_actions.report_cant(request, who, move_id, reason, _version(form))

    return await _then_back(request, who, form, report())


@routes.page("GET", "/rota", roles=STAFF_ROLES, summary="Move rotas: pick a school")
async def rota_index(request: web.Request, who: Principal) -> web.StreamResponse:
    """The provider's schools, each linking to today's rota."""
    async with request.app[DATABASE].sessions() as session:
        schools = list(
            await session.scalars(
                select(School).where(School.provider_id == who.provider_id).order_by(School.name)
            )
        )
    return render(request, who, "rota_index.html", {"title": "Move rota", "schools": schools})


@routes.page(
    "GET", "/schools/{school_id}/rota", roles=STAFF_ROLES, summary="A school day's move rota"
)
async def staff_rota(request: web.Request, who: Principal) -> web.StreamResponse:
    """Statuses, who did what, unassigned moves highlighted, hand assignment (pins)."""
    try:
        day = date.fromisoformat(request.query["date"]) if request.query.get("date") else None
    except ValueError:
        raise InvalidInput("Give the date as YYYY-MM-DD.") from None
    async with request.app[DATABASE].transaction() as session:
        rota, outcome = await day_rota(
            session,
            who,
            request.match_info["school_id"],
            day,
            request.app[CLOCK].now(),
            battery=True,
        )
        rota.moves = await with_advice(session, rota.school, rota.day, rota.moves, rota.assistants)
        can_pin = await may_change(session, who)
    await announce_outcomes(request.app, [outcome] if outcome else [])
    context = {
        "title": f"Move rota · {rota.school.name}",
        "rota": rota,
        "labels": LABELS,
        "can_pin": can_pin,
    }
    if request.query.get("live") == "1":
        return render(request, who, "rota_staff_live.html", context | {"open": OPEN})
    async with request.app[DATABASE].sessions() as session:
        rooms, bases = await rota_config.school_bases(session, rota.school.id)
        walking = await load_walking(session, rota.school.id)
    names = {r.id: r.name for r in rooms}
    pairs = sorted(
        (sorted(names.get(i, "?") for i in pair), t.total_seconds() / 60)
        for pair, t in walking.overrides.items()
    )
    context |= {"open": OPEN, "rooms": rooms, "bases": bases, "walking": walking, "pairs": pairs}
    return render(request, who, "rota_staff.html", context, current="/rota")


@routes.page(
    "POST",
    "/schools/{school_id}/rota/base-room",
    roles=STAFF_ROLES,
    summary="Set the room an assistant starts their duty from (form)",
)
async def base_room_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """An empty room means unknown (the planner assumes they start next to their first move)."""
    form = await form_fields(request)
    now = request.app[CLOCK].now()
    school_id = request.match_info["school_id"]
    async with request.app[DATABASE].transaction() as session:
        user = await rota_config.assistant_of(session, who, form.get("user_id", ""))
        if user.school_id != school_id:
            raise NotFound("That assistant is not on this school's rota.")
        await check_may_change(session, who, "change the rota's settings")
        await rota_config.set_base_room(session, user, form.get("room_id") or None)
        outcomes = await rota_services.replan_ahead(session, school_id, now)
        record_request(request, session, who, "rota.base_room", "user", user.id)
    await announce_outcomes(request.app, outcomes)
    raise web.HTTPSeeOther(_back(form, f"/schools/{school_id}/rota"))


@routes.page(
    "POST",
    "/schools/{school_id}/rota/walking",
    roles=STAFF_ROLES,
    summary="Set the school's walking times, or one pair of rooms' (form)",
)
async def walking_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """The three general times, and optionally one pair of rooms' own time (kept with the
    pairs already set; an empty time for a pair removes it). The coming days are planned
    again with them."""
    form = await form_fields(request)
    now = request.app[CLOCK].now()
    school_id = request.match_info["school_id"]
    async with request.app[DATABASE].transaction() as session:
        current = await load_walking(session, school_id)
        pairs: dict[tuple[str, ...], object] = {
            tuple(sorted(pair)): round(t.total_seconds() / 60, 1)
            for pair, t in current.overrides.items()
        }
        a, b = form.get("room_a_id", ""), form.get("room_b_id", "")
        if a or b:
            pair = (a, b) if a == b else tuple(sorted((a, b)))
            pairs.pop(pair, None)
            if form.get("pair_minutes", "").strip() or a == b:
                pairs[pair] = form.get("pair_minutes", "").strip() or 0
        body = WalkingIn.model_validate(
            {
                name: form.get(name) or default
                for name, default in (
                    ("same_floor_minutes", 2),
                    ("same_building_minutes", 4),
                    ("other_building_minutes", 8),
                )
            }
            | {
                "overrides": [
                    {"room_a_id": p[0], "room_b_id": p[-1], "minutes": m} for p, m in pairs.items()
                ]
            }
        )
        school = await rota_config.put_walking(session, who, school_id, body, now)
        await check_may_change(session, who, "change the rota's settings")
        outcomes = await rota_services.replan_ahead(session, school.id, now)
        record_request(request, session, who, "rota.walking", "school", school.id)
    await announce_outcomes(request.app, outcomes)
    raise web.HTTPSeeOther(_back(form, f"/schools/{school_id}/rota") + "#walking")


@routes.page(
    "POST", "/schools/{school_id}/rota/assign", roles=STAFF_ROLES, summary="Assign a move (form)"
)
async def assign_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """An empty assistant unpins the move and lets the planner choose."""
    form = await form_fields(request)
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        row, outcome = await rota_services.pin_move(
            session,
            who,
            form.get("move_id", ""),
            form.get("assistant_id") or None,
            _version(form),
            now,
        )
        if row.school_id != request.match_info["school_id"]:
            raise NotFound("That move is not on this school's rota.")
        details = {"assistant_id": row.assistant_id}
        record_request(request, session, who, "move.assign", "move", row.id, details)
    await announce_outcomes(request.app, [outcome])
    raise web.HTTPSeeOther(f"/schools/{row.school_id}/rota?date={row.local_date.isoformat()}")


@routes.page("GET", "/rota/events", roles=PEOPLE, summary="Live rota changes (server-sent events)")
async def rota_events(request: web.Request, who: Principal) -> web.StreamResponse:
    """One ``rota`` event per change of the school's rota; ends when the session does."""
    school_id = request.query.get("school", "")[:32]
    async with request.app[DATABASE].sessions() as session:
        school = await rota_services.visible_school(session, who, school_id)
    return await relay_topic(request, rota_topic(school.id), "rota", RECHECK_SECONDS)


@routes.page("POST", "/rota/feed", roles=[Role.ASSISTANT], summary="A new calendar link (form)")
async def feed_form(request: web.Request, who: Principal) -> web.StreamResponse:
    """Shows the new link once on the assistant's page; earlier links stop working."""
    form = await form_fields(request)
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        user = await rota_config.assistant_of(session, who, who.subject_id)
        if form.get("action") == "revoke":
            await rota_config.revoke_feeds(session, user, now)
            record_request(request, session, who, "rota.feed_revoke", "user", user.id)
            raise web.HTTPSeeOther("/assistant")
        token = await rota_config.new_feed(session, user, now)
        record_request(request, session, who, "rota.feed_new", "user", user.id)
    base = request.app[SETTINGS].base_url.rstrip("/")
    # Rendered directly: cloning a request whose form was read fails in aiohttp.
    return await assistant_rota(request, who, feed_url=f"{base}/feeds/assistants/{token}.ics")


@routes.page(
    "GET", "/feeds/assistants/{token}.ics", roles=PUBLIC, summary="An assistant's moves (iCal)"
)
async def feed(request: web.Request, _who: Principal | None) -> web.StreamResponse:
    """The secret link is the credential: 404 unknown, 410 revoked."""
    async with request.app[DATABASE].sessions() as session:
        user = await rota_config.feed_owner(session, request.match_info["token"][:100])
        now = request.app[CLOCK].now()
        moves = await assistant_moves(session, user, now)
    body = moves_calendar(user.name, [m for m in moves if m.row.status != "failed"], now)
    return web.Response(
        text=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )
