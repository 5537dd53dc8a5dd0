"""Staff pages of the device registry: the live fleet table and a device's page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from device_registry import services
from device_registry.domain import (
    DEFAULT_CAPABILITIES,
    ROBOT_ONLY,
    Capability,
    Command,
    DeviceKind,
    format_pairing_code,
)
from device_registry.hub import fleet_topic
from device_registry.models import DeviceCommandRecord, TelemetrySample
from device_registry.protocol import CLOSE_AUTH, CLOSE_RETIRED, CommandMessage
from device_registry.schemas import DeviceIn, DevicePatch
from device_registry.socket import DEVICE_HUB
from device_registry.views import device_views, pair_url, qr_svg, room_test
from telepresence.platform.errors import DomainError, validation_errors
from telepresence.platform.http.context import CLOCK, DATABASE, SETTINGS
from telepresence.platform.http.rendering import form_fields, render
from telepresence.platform.http.routing import Routes
from telepresence.platform.http.streams import relay_topic
from telepresence.platform.models import Pupil, Room, School, zone_of
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import STAFF, Principal, Role
from telepresence.platform.security.revocation import (
    Identity,
    revoke_identity,
)

__all__ = ["routes"]

routes = Routes("device-pages")
ADMIN = [Role.ADMIN]
RECHECK_SECONDS = 5.0
COMMAND_WORDS = {
    "identify": "Blink lights",
    "restart": "Restart",
    "update_settings": "Update settings",
    "readiness_test": "Room connection test",
}


def _errors(exc: DomainError | ValidationError) -> list[str]:
    if isinstance(exc, ValidationError):
        return [f"{e['field']}: {e['message']}" for e in validation_errors(exc)]
    return [exc.detail, *(e["message"] for e in exc.errors)]


async def _fleet_context(request: web.Request, who: Principal) -> dict[str, Any]:
    async with request.app[DATABASE].sessions() as session:
        devices = await device_views(session, await services.list_devices(session, who))
        schools = list(
            await session.scalars(
                select(School).where(School.provider_id == who.provider_id).order_by(School.name)
            )
        )
        pupils = list(
            await session.scalars(
                select(Pupil)
                .where(Pupil.provider_id == who.provider_id, Pupil.active.is_(True))
                .order_by(Pupil.first_name)
            )
        )
        rooms = list(
            await session.scalars(
                select(Room)
                .where(Room.school_id.in_([s.id for s in schools]))
                .order_by(Room.building, Room.name)
            )
        )
    online = sum(d.online for d in devices)
    registered = request.query.get("registered", "")
    new = next((d for d in devices if d.id == registered), None)
    low = sum(1 for d in devices if d.battery_pct is not None and d.battery_pct < 20)
    return {
        "title": "Devices",
        "devices": devices,
        "schools": schools,
        "pupils": pupils,
        "kinds": list(DeviceKind),
        "capabilities": list(Capability),
        "defaults": {k.value: [c.value for c in DEFAULT_CAPABILITIES[k]] for k in DeviceKind},
        "rooms_by_school": {s.id: [r for r in rooms if r.school_id == s.id] for s in schools},
        "registered": new,
        "zones": {sc.id: ZoneInfo(sc.time_zone) for sc in schools},
        "default_zone": ZoneInfo(schools[0].time_zone if schools else "Europe/London"),
        "zone_names": sorted({sc.time_zone for sc in schools}) or ["Europe/London"],
        "online": online,
        "low_battery": low,
        "is_admin": who.role is Role.ADMIN,
        "form": {},
    }


@routes.page("GET", "/devices", roles=STAFF, summary="Fleet table, live")
async def fleet_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Every robot and tablet with live status; updates arrive by server-sent events."""
    return render(request, who, "fleet.html", await _fleet_context(request, who))


@routes.page("GET", "/devices/events", roles=STAFF, summary="Fleet updates (server-sent events)")
async def fleet_events(request: web.Request, who: Principal) -> web.StreamResponse:
    """One ``device`` event per change of a device's live state.

    Signing out or being deactivated ends the stream within a second
    (``SignedInStreams``).
    """
    assert who.provider_id is not None
    return await relay_topic(request, fleet_topic(who.provider_id), "device", RECHECK_SECONDS)


@routes.page("POST", "/devices", roles=ADMIN, summary="Register a device (form)")
async def fleet_add(request: web.Request, who: Principal) -> web.StreamResponse:
    """On success, back to the fleet with the new device highlighted and a link to pair it.

    A tablet never gets a robot's capabilities (the form may have had them ticked
    when it was opened for a robot and no script ran).
    """
    form = await form_fields(request)
    try:
        kind = form.get("kind", "")
        data = DeviceIn(
            serial=form.get("serial", ""),
            name=form.get("name", ""),
            model=form.get("model", ""),
            kind=kind,
            capabilities=[
                c
                for c in Capability
                if form.get(f"cap_{c.value}") == "on"
                and not (kind == DeviceKind.TABLET and c in ROBOT_ONLY)
            ],
            school_id=form.get("school_id") or None,
            pupil_id=form.get("pupil_id") or None,
            charging_base_room_id=form.get("charging_base_room_id") or None,
        )
        async with request.app[DATABASE].transaction() as session:
            device = await services.register_device(session, who, data, request.app[CLOCK].now())
            record_request(request, session, who, "device.register", "device", device.id)
    except (DomainError, ValidationError) as exc:
        context = await _fleet_context(request, who)
        return render(
            request,
            who,
            "fleet.html",
            context | {"errors": _errors(exc), "form": form},
            status=422,
            current="/devices",
        )
    raise web.HTTPSeeOther(f"/devices?registered={device.id}#d-{device.id}")


async def _device_context(request: web.Request, who: Principal, device_id: str) -> dict[str, Any]:
    since = request.app[CLOCK].now() - timedelta(hours=24)
    async with request.app[DATABASE].sessions() as session:
        device = await services.get_device(session, who, device_id)
        view = (await device_views(session, [device]))[0]
        samples = list(
            await session.scalars(
                select(TelemetrySample)
                .where(TelemetrySample.device_id == device.id, TelemetrySample.at >= since)
                .order_by(TelemetrySample.at)
            )
        )
        commands = list(
            await session.scalars(
                select(DeviceCommandRecord)
                .where(DeviceCommandRecord.device_id == device.id)
                .order_by(DeviceCommandRecord.created_at.desc())
                .limit(10)
            )
        )
        rooms = list(
            await session.scalars(
                select(Room).where(Room.school_id == device.school_id).order_by(Room.name)
            )
        )
        school = await session.get(School, device.school_id) if device.school_id else None
        school_pupils = list(
            await session.scalars(
                select(Pupil)
                .where(Pupil.school_id == device.school_id, Pupil.active.is_(True))
                .order_by(Pupil.first_name, Pupil.last_name)
            )
        )
        last_test = await session.scalar(
            select(DeviceCommandRecord)
            .where(
                DeviceCommandRecord.device_id == device.id,
                DeviceCommandRecord.command == Command.READINESS_TEST.value,
            )
            .order_by(DeviceCommandRecord.created_at.desc())
            .limit(1)
        )
    reported = (view.reported_room or "").casefold()
    here = view.last_known_room_id or next(
        (r.id for r in rooms if reported and r.name.casefold() == reported), ""
    )
    return {
        "title": view.name,
        "device": view,
        "here_room_id": here,
        "zone": zone_of(school),
        "room_test": room_test(last_test, request.app[CLOCK].now()),
        "command_words": COMMAND_WORDS,
        "status_words": {"sent": "sent, no answer yet", "done": "done", "failed": "failed"},
        "chart": battery_chart(samples),
        "commands": commands,
        "rooms": rooms,
        "school_pupils": school_pupils,
        "pairing": None,
        "notice": "",
        "is_admin": who.role is Role.ADMIN,
        "command_names": list(Command),
        "connected": request.app[DEVICE_HUB].reachable(device.id, device.online),
    }


def battery_chart(samples: list[TelemetrySample]) -> dict[str, Any] | None:
    """An SVG polyline of battery % over the last day (None without data)."""
    points = [(s.at, s.battery_pct) for s in samples if s.battery_pct is not None]
    if len(points) < 2:
        return None
    start, end = points[0][0], points[-1][0]
    span = max((end - start).total_seconds(), 1.0)
    coords = " ".join(
        f"{40 + 540 * (at - start).total_seconds() / span:.1f},{10 + 1.6 * (100 - pct):.1f}"
        for at, pct in points
    )
    return {
        "points": coords,
        "start": start,
        "end": end,
        "last": points[-1][1],
        "min": min(p for _, p in points),
        "max": max(p for _, p in points),
    }


@routes.page("GET", "/devices/{device_id}", roles=STAFF, summary="A device's page")
async def device_page(request: web.Request, who: Principal) -> web.StreamResponse:
    """Status, assignment, battery chart, commands; pairing for admins."""
    context = await _device_context(request, who, request.match_info["device_id"])
    return render(request, who, "device.html", context, current="/devices")


@routes.page(
    "POST", "/devices/{device_id}/pairing-code", roles=ADMIN, summary="Make a pairing code (form)"
)
async def device_pairing(request: web.Request, who: Principal) -> web.StreamResponse:
    """Shows the code and its QR once; earlier codes stop working."""
    device_id = request.match_info["device_id"]
    settings = request.app[SETTINGS]
    async with request.app[DATABASE].transaction() as session:
        code, row = await services.create_pairing_code(
            session,
            who,
            device_id,
            request.app[CLOCK].now(),
            timedelta(minutes=settings.pairing_code_minutes),
        )
        record_request(request, session, who, "device.pairing_code", "device", device_id)
    url = pair_url(settings.base_url, code)
    context = await _device_context(request, who, device_id)
    context["pairing"] = {
        "code": format_pairing_code(code),
        "expires_at": row.expires_at,
        "qr": qr_svg(url),
        "url": url,
    }
    return render(request, who, "device.html", context, current="/devices")


@routes.page(
    "POST",
    "/devices/{device_id}/command",
    roles=[Role.ADMIN, Role.COORDINATOR],
    summary="Send a command (form)",
)
async def device_command(request: web.Request, who: Principal) -> web.StreamResponse:
    """Identify, restart or update settings; refused when the device is offline."""
    device_id = request.match_info["device_id"]
    form = await form_fields(request)
    hub = request.app[DEVICE_HUB]
    errors: list[str] = []
    try:
        command = Command(form.get("command", ""))
        async with request.app[DATABASE].transaction() as session:
            device = await services.get_device(session, who, device_id)
            if not hub.reachable(device.id, device.online):
                raise DomainError(f"{device.name} is not connected, so it cannot take commands.")
            record = await services.record_command(
                session, who, device, command, {}, request.app[CLOCK].now()
            )
            record_request(
                request, session, who, f"device.command.{command.value}", "device", device.id
            )
        await hub.send(
            device.id, CommandMessage(command_id=record.id, command=command).model_dump(mode="json")
        )
    except ValueError:
        errors = ["Unknown command."]
    except DomainError as exc:
        errors = _errors(exc)
    context = await _device_context(request, who, device_id)
    context |= {"errors": errors, "notice": "" if errors else "Command sent."}
    return render(
        request, who, "device.html", context, status=409 if errors else 200, current="/devices"
    )


@routes.page(
    "POST",
    "/devices/{device_id}/lifecycle",
    roles=ADMIN,
    summary="Maintenance, back in service, retire, revoke (form)",
)
async def device_lifecycle(request: web.Request, who: Principal) -> web.StreamResponse:
    """Retiring or revoking closes the device's socket at once."""
    device_id = request.match_info["device_id"]
    action = (await form_fields(request)).get("action", "")
    hub, now = request.app[DEVICE_HUB], request.app[CLOCK].now()
    errors: list[str] = []
    close: tuple[int, str] | None = None
    base: str | None = None
    try:
        async with request.app[DATABASE].transaction() as session:
            if action == "revoke":
                device = await services.get_device(session, who, device_id)
                await services.revoke_credentials(session, device.id, now)
                await revoke_identity(request.app, session, Identity.DEVICE, device.id, now)
                device.paired_at = None
                close = (CLOSE_AUTH, "credential revoked")
            elif action in {"active", "maintenance", "retired"}:
                _, retired = await services.update_device(
                    session, who, device_id, DevicePatch(lifecycle=action), now
                )
                if retired:
                    await revoke_identity(request.app, session, Identity.DEVICE, device_id, now)
                close = (CLOSE_RETIRED, "device retired") if retired else None
            elif action == "room":
                room = (await form_fields(request)).get("room_id") or None
                await services.update_device(
                    session, who, device_id, DevicePatch(last_known_room_id=room), now
                )
            elif action == "pupil":  # reassign to another pupil of its school, or to nobody
                pupil = (await form_fields(request)).get("pupil_id") or None
                await services.update_device(
                    session, who, device_id, DevicePatch(pupil_id=pupil), now
                )
            elif action == "base":
                base = (await form_fields(request)).get("base_room_id") or None
                await services.update_device(
                    session, who, device_id, DevicePatch(charging_base_room_id=base), now
                )
            else:
                raise DomainError("Unknown action.")
            record_request(request, session, who, f"device.{action}", "device", device_id)
    except DomainError as exc:
        errors = _errors(exc)
    if close:
        await hub.disconnect(device_id, *close)
    if action in {"active", "maintenance", "retired"} and not errors:
        hub.announce(who.provider_id or "", device_id, lifecycle=action)
    if action == "base" and not errors:  # the rota derives the trip back to it at once
        hub.announce(who.provider_id or "", device_id, charging_base_room_id=base)
    context = await _device_context(request, who, device_id)
    context |= {"errors": errors, "notice": "" if errors else "Saved."}
    return render(
        request, who, "device.html", context, status=409 if errors else 200, current="/devices"
    )
