"""Staff pages that change a pupil's record: edit details, take off roll (after a summary
of what changes), back on roll, delete a record made by mistake."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.models import Device
from device_registry.views import device_views
from scheduler.bookings.events import HubBookingEvents
from telepresence.organisation import roll
from telepresence.organisation import services as org
from telepresence.organisation.schemas import PupilPatch
from telepresence.platform.errors import DomainError, validation_errors
from telepresence.platform.http.context import CLOCK, DATABASE, EVENTS
from telepresence.platform.http.rendering import form_fields, render
from telepresence.platform.http.routing import Routes
from telepresence.platform.models import School, User, zone_of
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import STAFF, Principal, Role
from telepresence.platform.security.permissions import may_change

__all__ = ["pupil_context", "routes"]

routes = Routes("pupil-pages")
EDITORS = [Role.ADMIN, Role.HOSPITAL_STAFF]
NOTICES = {
    "details": "The pupil's details are saved.",
    "on-roll": "The pupil is back on roll and can sign in again. Book their lessons anew.",
}


def _how_many(text: str, thing: str) -> str:
    """``"1"`` → "1 booking", ``"3"`` → "3 bookings", anything else → "no bookings"."""
    n = int(text) if text.isdigit() else 0
    return f"{n or 'no'} {thing}{'' if n == 1 else 's'}"


def _notice(query: Any) -> str:
    if query.get("notice") == "off-roll":
        cancelled = _how_many(query.get("cancelled", "0"), "booking")
        released = _how_many(query.get("released", "0"), "device")
        return (
            f"Taken off roll: {cancelled} cancelled, {released} released, "
            "and their tablet is signed out."
        )
    return NOTICES.get(query.get("notice", ""), "")


async def pupil_context(request: web.Request, who: Principal, pupil_id: str) -> dict[str, Any]:
    """The pupil's page: record, school, key worker, devices, what the viewer may change.

    The read is audited.
    """
    async with request.app[DATABASE].transaction() as session:
        pupil = await org.get_pupil(session, who, pupil_id)
        school = await session.get(School, pupil.school_id)
        key_worker = await session.get(User, pupil.key_worker_id) if pupil.key_worker_id else None
        devices = await device_views(
            session, list(await session.scalars(select(Device).where(Device.pupil_id == pupil.id)))
        )
        staff = await key_workers(session, who)
        if key_worker is not None and key_worker not in staff:
            staff.append(key_worker)  # deactivated since: keep them unless someone chooses anew
        can_consent = await may_change(session, who)
        record_request(request, session, who, "pupil.read", "pupil", pupil.id)
    return {
        "title": org.display_name(pupil.first_name, pupil.last_name),
        "pupil": pupil,
        "school": school,
        "key_worker": key_worker,
        "key_workers": staff,
        "devices": devices,
        "notice": _notice(request.query),
        "can_edit": who.role in {Role.ADMIN, Role.HOSPITAL_STAFF},
        "edit_form": None,
        "can_record_consent": can_consent,
        "consent_form": {},
        "today": request.app[CLOCK].now().date(),
    }


def _patch_from(form: dict[str, str]) -> PupilPatch:
    return PupilPatch(
        first_name=form.get("first_name", "").strip(),
        last_name=form.get("last_name", "").strip(),
        year_group=form.get("year_group", "").strip(),
        key_worker_id=form.get("key_worker_id") or None,
        parent_consent=form.get("parent_consent") == "on",
        class_informed=form.get("class_informed") == "on",
    )


@routes.page(
    "POST",
    "/pupils/{pupil_id}/details",
    roles=EDITORS,
    summary="Change a pupil's names, year, key worker and consent flags (form)",
)
async def edit_details(request: web.Request, who: Principal) -> web.StreamResponse:
    """Refused whole with the field at fault; the change is in the audit log."""
    pupil_id = request.match_info["pupil_id"]
    form = await form_fields(request)
    try:
        patch = _patch_from(form)
        async with request.app[DATABASE].transaction() as session:
            pupil = await org.update_pupil(session, who, pupil_id, patch)
            record_request(
                request,
                session,
                who,
                "pupil.update",
                "pupil",
                pupil.id,
                {"fields": sorted(patch.model_dump(exclude_unset=True))},
            )
    except ValidationError as exc:
        problems = [
            f"{e['field'].replace('_', ' ').capitalize()}: {e['message']}"
            for e in validation_errors(exc)
        ]
        return await _pupil_again(request, who, pupil_id, problems, form)
    except DomainError as exc:
        return await _pupil_again(request, who, pupil_id, [exc.detail], form)
    raise web.HTTPSeeOther(f"/pupils/{pupil_id}?notice=details")


async def _pupil_again(
    request: web.Request, who: Principal, pupil_id: str, errors: list[str], form: dict[str, str]
) -> web.StreamResponse:
    context = await pupil_context(request, who, pupil_id)
    context |= {"errors": errors, "edit_form": form}
    return render(request, who, "pupil.html", context, status=422, current="/pupils")


async def _off_roll_context(request: web.Request, who: Principal, pupil_id: str) -> dict[str, Any]:
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        summary = await roll.off_roll_summary(session, who, pupil_id, now)
        school = await session.get(School, summary.pupil.school_id)
        record_request(request, session, who, "pupil.read", "pupil", summary.pupil.id)
    name = org.display_name(summary.pupil.first_name, summary.pupil.last_name)
    return {
        "title": f"Take {name} off roll",
        "summary": summary,
        "zone": zone_of(school),
        "school": school,
    }


@routes.page(
    "GET",
    "/pupils/{pupil_id}/off-roll",
    roles=EDITORS,
    summary="What taking a pupil off roll changes, to confirm",
)
async def off_roll_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Lists the bookings cancelled, the devices released, a lesson left to end."""
    context = await _off_roll_context(request, who, request.match_info["pupil_id"])
    return render(request, who, "off_roll.html", context, current="/pupils")


@routes.page(
    "POST",
    "/pupils/{pupil_id}/off-roll",
    roles=EDITORS,
    summary="Take a pupil off roll: bookings ended, devices released, tablet signed out (form)",
)
async def off_roll_submit(request: web.Request, who: Principal) -> web.StreamResponse:
    """409 when already off roll; the rota re-plans around the cancelled bookings."""
    pupil_id = request.match_info["pupil_id"]
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as session:
        summary, events = await roll.take_off_roll(request.app, session, who, pupil_id, now)
        record_request(
            request,
            session,
            who,
            "pupil.off_roll",
            "pupil",
            pupil_id,
            {"cancelled": len(summary.bookings), "released": [d.id for d in summary.devices]},
        )
    HubBookingEvents(request.app[EVENTS]).publish(events)
    raise web.HTTPSeeOther(
        f"/pupils/{pupil_id}?notice=off-roll&cancelled={len(summary.bookings)}"
        f"&released={len(summary.devices)}"
    )


@routes.page(
    "POST", "/pupils/{pupil_id}/on-roll", roles=EDITORS, summary="Put a pupil back on roll (form)"
)
async def on_roll_submit(request: web.Request, who: Principal) -> web.StreamResponse:
    """They can sign in again with their PIN; book their lessons anew."""
    pupil_id = request.match_info["pupil_id"]
    async with request.app[DATABASE].transaction() as session:
        pupil = await roll.back_on_roll(session, who, pupil_id)
        record_request(request, session, who, "pupil.on_roll", "pupil", pupil.id)
    raise web.HTTPSeeOther(f"/pupils/{pupil_id}?notice=on-roll")


@routes.page(
    "POST",
    "/pupils/{pupil_id}/delete",
    roles=EDITORS,
    summary="Delete a pupil's record made by mistake (no lessons on record) (form)",
)
async def delete_submit(request: web.Request, who: Principal) -> web.StreamResponse:
    """409 for a pupil with lessons on record: take them off roll instead."""
    pupil_id = request.match_info["pupil_id"]
    async with request.app[DATABASE].transaction() as session:
        pupil = await roll.delete_pupil(session, who, pupil_id, request.app[CLOCK].now())
        record_request(
            request, session, who, "pupil.delete", "pupil", pupil_id, {"name": pupil.first_name}
        )
    raise web.HTTPSeeOther("/pupils?notice=deleted")


async def key_workers(session: AsyncSession, who: Principal) -> list[User]:
    """Active staff of the provider who can be a pupil's key worker, by name."""
    return list(
        await session.scalars(
            select(User)
            .where(
                User.provider_id == who.provider_id,
                User.role.in_([r.value for r in STAFF]),
                User.active.is_(True),
            )
            .order_by(User.name)
        )
    )
