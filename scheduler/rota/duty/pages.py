"""The staff page of one assistant's duty: weekly hours (with a break), daily cap, phone,
and days away. Times are the school's local wall-clock times, as the rota reads them.

Every change re-plans the school's coming days, as the API does.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import delete, select

from scheduler.rota import config as rota_config
from scheduler.rota import services as rota_services
from scheduler.rota.listener import announce_outcomes
from scheduler.rota.models import AbsenceRow
from scheduler.rota.schemas import AbsenceIn, BreakIn, DutyIn, DutyPatternIn
from telepresence.platform.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    validation_errors,
)
from telepresence.platform.http.context import CLOCK, DATABASE
from telepresence.platform.http.rendering import form_fields, render
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import School
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import STAFF, Principal
from telepresence.platform.security.permissions import check_may_change, may_change

__all__ = ["duty_from_form", "routes"]

routes = Routes("rota duty pages")
STAFF_ROLES = sorted(STAFF)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NOTICES = {
    "duty": "Duty hours saved. The coming days' rota is planned again with them.",
    "absence": "Absence saved. Their moves on those days go to others.",
    "absence-removed": "Absence removed.",
}


def _clock(text: str, field: str) -> time | None:
    if not text:
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field}: give a time like 08:30.") from None


def duty_from_form(form: dict[str, str]) -> DutyIn:
    """One stretch per weekday (``start_N``/``end_N``, optional ``break_start_N``/``break_end_N``).

    A day with neither time is off duty; a day with one of the two is refused
    (``InvalidInput`` naming the day), as are bad times, a cap that is not a number,
    and what ``DutyIn`` and ``check_duty`` refuse.
    """
    patterns = []
    for day, name in enumerate(DAYS):
        start = _clock(form.get(f"start_{day}", ""), f"{name} from")
        end = _clock(form.get(f"end_{day}", ""), f"{name} until")
        if start is None and end is None:
            continue
        if start is None or end is None:
            raise InvalidInput(f"{name}: give both the start and the end of duty, or neither.")
        breaks = []
        b_start = _clock(form.get(f"break_start_{day}", ""), f"{name} break from")
        b_end = _clock(form.get(f"break_end_{day}", ""), f"{name} break until")
        if (b_start is None) != (b_end is None):
            raise InvalidInput(f"{name}: give both ends of the break, or neither.")
        if b_start is not None and b_end is not None:
            breaks.append(BreakIn(start=b_start, end=b_end))
        patterns.append(DutyPatternIn(weekday=day, start=start, end=end, breaks=breaks))
    cap_text = form.get("max_moves_per_day", "").strip()
    if cap_text and not cap_text.isdigit():
        raise InvalidInput("Most moves a day: give a whole number, or leave it empty.")
    try:
        duty = DutyIn(
            patterns=patterns,
            max_moves_per_day=int(cap_text) if cap_text else None,
            phone=form.get("phone", "").strip() or None,
        )
    except ValidationError as exc:
        fields = ", ".join(e["field"] for e in validation_errors(exc))
        raise InvalidInput(f"Check these entries: {fields}.") from None
    try:
        rota_config.check_duty(duty.patterns)
    except InvalidInput as exc:
        field = str(exc.errors[0]["field"]) if exc.errors else ""
        at = duty.patterns[int(field.split(".")[1])] if field.count(".") else None
        message = exc.errors[0]["message"] if exc.errors else exc.detail
        raise InvalidInput(f"{DAYS[at.weekday] if at else 'Duty'}: {message}.") from None
    return duty


async def _context(request: web.Request, who: Principal, user_id: str) -> dict[str, Any]:
    today = request.app[CLOCK].now().date()
    async with request.app[DATABASE].sessions() as session:
        user = await rota_config.assistant_of(session, who, user_id)
        can_change = await may_change(session, who)
        patterns, settings = await rota_config.get_duty(session, user)
        absences = await rota_config.list_absences(session, user, today)
        school = await session.get(School, user.school_id) if user.school_id else None
    by_day: dict[int, DutyPatternIn] = {}
    for p in patterns:
        by_day.setdefault(p.weekday, p)
    return {
        "title": f"{user.name}: duty",
        "assistant": user,
        "school": school,
        "days": DAYS,
        "by_day": by_day,
        "extra_stretches": len(patterns) - len(by_day),
        "settings": settings,
        "absences": absences,
        "can_change": can_change,
        "today": today,
        "form": {},
        "notice": NOTICES.get(request.query.get("notice", ""), ""),
    }


async def _page(
    request: web.Request, who: Principal, user_id: str, **extra: Any
) -> web.StreamResponse:
    context = await _context(request, who, user_id) | extra
    status = 422 if extra.get("errors") else 200
    return render(request, who, "rota_duty.html", context, status=status, current="/rota")


@routes.page(
    "GET",
    "/assistants/{user_id}/duty",
    roles=STAFF_ROLES,
    summary="An assistant's duty hours and days away (staff page)",
)
async def duty_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Weekly hours by day, the daily cap and phone, and absences from today on."""
    return await _page(request, who, request.match_info["user_id"])


@routes.page(
    "POST",
    "/assistants/{user_id}/duty",
    roles=STAFF_ROLES,
    summary="Replace an assistant's duty hours (form)",
)
async def duty_save(request: web.Request, who: Principal) -> web.StreamResponse:
    """Refused whole, with the day at fault, when a time is missing or reversed."""
    user_id = request.match_info["user_id"]
    form = await form_fields(request)
    now = request.app[CLOCK].now()
    try:
        duty = duty_from_form(form)
        async with request.app[DATABASE].transaction() as session:
            user = await rota_config.assistant_of(session, who, user_id)
            await check_may_change(session, who, "change the rota's settings")
            await rota_config.put_duty(session, user, duty, now)
            outcomes = await rota_services.replan_ahead(session, user.school_id, now)
            record_request(request, session, who, "rota.duty", "user", user.id)
    except InvalidInput as exc:
        return await _page(request, who, user_id, errors=[exc.detail], form=form)
    await announce_outcomes(request.app, outcomes)
    raise web.HTTPSeeOther(f"/assistants/{user_id}/duty?notice=duty")


@routes.page(
    "POST",
    "/assistants/{user_id}/absences",
    roles=STAFF_ROLES,
    summary="Record an assistant's days away (form)",
)
async def absence_add(request: web.Request, who: Principal) -> web.StreamResponse:
    """Both dates inclusive; the days from today on are planned again without them."""
    user_id = request.match_info["user_id"]
    form = await form_fields(request)
    now = request.app[CLOCK].now()
    try:
        try:
            body = AbsenceIn(
                start_date=date.fromisoformat(form.get("start_date", "")),
                end_date=date.fromisoformat(form.get("end_date") or form.get("start_date", "")),
                reason=form.get("reason", "")[:200],
            )
        except ValueError:
            raise InvalidInput("Give the first and last day away as dates.") from None
        async with request.app[DATABASE].transaction() as session:
            user = await rota_config.assistant_of(session, who, user_id)
            await check_may_change(session, who, "change the rota's settings")
            row = await rota_config.add_absence(session, who, user, body, now)
            span = (body.end_date - body.start_date).days + 1
            days = [body.start_date + timedelta(days=i) for i in range(min(span, 15))]
            outcomes = await rota_services.replan_days(session, row.school_id, days, now)
            record_request(request, session, who, "rota.absence", "user", user.id)
    except Forbidden:
        raise  # a coordinator without the provider's leave: 403, not a form error
    except DomainError as exc:
        message = exc.detail.replace(
            "end_date: before start_date", "The last day is before the first"
        )
        return await _page(request, who, user_id, errors=[message], form=form)
    await announce_outcomes(request.app, outcomes)
    raise web.HTTPSeeOther(f"/assistants/{user_id}/duty?notice=absence")


@routes.page(
    "POST",
    "/assistants/{user_id}/absences/{absence_id}/remove",
    roles=STAFF_ROLES,
    summary="Remove an assistant's absence, e.g. back early (form)",
)
async def absence_remove(request: web.Request, who: Principal) -> web.StreamResponse:
    """The days it covered from today on are planned again with the assistant."""
    user_id = request.match_info["user_id"]
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        user = await rota_config.assistant_of(session, who, user_id)
        await check_may_change(session, who, "change the rota's settings")
        row = await session.scalar(
            select(AbsenceRow).where(
                AbsenceRow.id == request.match_info["absence_id"], AbsenceRow.user_id == user.id
            )
        )
        if row is None:
            raise NotFound("There is no such absence.")
        span = (row.end_date - row.start_date).days + 1
        days = [row.start_date + timedelta(days=i) for i in range(min(span, 15))]
        school_id = row.school_id
        await session.execute(delete(AbsenceRow).where(AbsenceRow.id == row.id))
        outcomes = await rota_services.replan_days(session, school_id, days, now)
        record_request(request, session, who, "rota.absence_removed", "user", user.id)
    await announce_outcomes(request.app, outcomes)
    raise web.HTTPSeeOther(f"/assistants/{user_id}/duty?notice=absence-removed")
