"""HTTP API of the device registry."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from pydantic import Field
from sqlalchemy import select

from device_registry import services
from device_registry.domain import format_pairing_code
from device_registry.models import DeviceCommandRecord, TelemetrySample
from device_registry.protocol import CLOSE_AUTH, CLOSE_RETIRED, CommandMessage
from device_registry.schemas import (
    CommandIn,
    CommandOut,
    CredentialOut,
    DeviceIn,
    DeviceOut,
    DevicePatch,
    PairIn,
    PairingCodeOut,
    TelemetryOut,
)
from device_registry.socket import DEVICE_HUB, serve_device_socket
from device_registry.views import device_views, pair_url, qr_svg
from telepresence.platform.errors import Conflict
from telepresence.platform.http.context import CLOCK, DATABASE, SETTINGS
from telepresence.platform.http.routing import Routes, Schema, counting_failures
from telepresence.platform.security.audit import record_request
from telepresence.platform.security.identity import PUBLIC, STAFF, Principal, Role
from telepresence.platform.security.revocation import Identity, revoke_identity

__all__ = ["routes"]

routes = Routes("devices")
ADMIN = [Role.ADMIN]
COMMANDERS = [Role.ADMIN, Role.COORDINATOR]


class HistoryQuery(Schema):
    """How far back to look."""

    hours: int = Field(default=24, ge=1, le=24 * 31)


routes.socket("/ws/device", roles=[Role.DEVICE], summary="Device socket (docs/protocol.md)")(
    serve_device_socket
)


@routes.api(
    "GET",
    "/api/devices",
    roles=STAFF,
    response=list[DeviceOut],
    summary="The provider's robots and tablets with their live state",
)
async def list_devices(request: web.Request, who: Principal) -> list[DeviceOut]:
    """Every device of the caller's provider."""
    async with request.app[DATABASE].sessions() as session:
        return await device_views(session, await services.list_devices(session, who))


@routes.api(
    "POST",
    "/api/devices",
    roles=ADMIN,
    body=DeviceIn,
    response=DeviceOut,
    status=201,
    errors=(409,),
    summary="Register a robot or tablet",
)
async def register_device(request: web.Request, who: Principal, body: DeviceIn) -> DeviceOut:
    """A new device, active and unpaired."""
    async with request.app[DATABASE].transaction() as session:
        device = await services.register_device(session, who, body, request.app[CLOCK].now())
        record_request(
            request, session, who, "device.register", "device", device.id, {"serial": device.serial}
        )
        return (await device_views(session, [device]))[0]


@routes.api(
    "GET",
    "/api/devices/{device_id}",
    roles=STAFF,
    response=DeviceOut,
    errors=(404,),
    summary="One device",
)
async def get_device(request: web.Request, who: Principal) -> DeviceOut:
    """A device of the caller's provider."""
    async with request.app[DATABASE].sessions() as session:
        device = await services.get_device(session, who, request.match_info["device_id"])
        return (await device_views(session, [device]))[0]


@routes.api(
    "PATCH",
    "/api/devices/{device_id}",
    roles=ADMIN,
    body=DevicePatch,
    response=DeviceOut,
    errors=(404, 409),
    summary="Rename, assign, move to maintenance or retire a device",
)
async def patch_device(request: web.Request, who: Principal, body: DevicePatch) -> DeviceOut:
    """Retiring revokes the credential and closes the device's socket at once."""
    device_id = request.match_info["device_id"]
    async with request.app[DATABASE].transaction() as session:
        now = request.app[CLOCK].now()
        device, close = await services.update_device(session, who, device_id, body, now)
        if close:
            await revoke_identity(request.app, session, Identity.DEVICE, device.id, now)
        record_request(
            request,
            session,
            who,
            "device.update",
            "device",
            device.id,
            body.model_dump(mode="json", exclude_unset=True),
        )
        out = (await device_views(session, [device]))[0]
    if close:
        await request.app[DEVICE_HUB].disconnect(device_id, CLOSE_RETIRED, "device retired")
    request.app[DEVICE_HUB].announce(
        who.provider_id or "", device_id, lifecycle=out.lifecycle.value
    )
    return out


@routes.api(
    "POST",
    "/api/devices/{device_id}/pairing-code",
    roles=ADMIN,
    response=PairingCodeOut,
    status=201,
    errors=(404, 409),
    summary="A one-time pairing code (and its QR code) for a device",
)
async def pairing_code(request: web.Request, who: Principal) -> PairingCodeOut:
    """The code expires after ``pairing_code_minutes``; earlier codes stop working."""
    settings = request.app[SETTINGS]
    async with request.app[DATABASE].transaction() as session:
        code, row = await services.create_pairing_code(
            session,
            who,
            request.match_info["device_id"],
            request.app[CLOCK].now(),
            timedelta(minutes=settings.pairing_code_minutes),
        )
        record_request(request, session, who, "device.pairing_code", "device", row.device_id)
    url = pair_url(settings.base_url, code)
    return PairingCodeOut(
        code=format_pairing_code(code),
        expires_at=row.expires_at,
        pair_url=url,
        qr_svg=qr_svg(url),
    )


@routes.api(
    "POST",
    "/api/devices/pair",
    roles=PUBLIC,
    body=PairIn,
    response=CredentialOut,
    status=201,
    errors=(404, 409, 410, 429),
    summary="A device redeems its pairing code for a credential (shown once)",
)
async def pair(request: web.Request, _who: Principal | None, body: PairIn) -> CredentialOut:
    """Rate-limited per address, like sign-in."""
    now = request.app[CLOCK].now()
    with counting_failures(request, "pair"):
        async with request.app[DATABASE].transaction() as session:
            credential, device = await services.redeem_pairing_code(
                session, body.code, body.serial, now
            )
            await revoke_identity(request.app, session, Identity.DEVICE, device.id, now)
    return CredentialOut(device_id=device.id, name=device.name, credential=credential)


@routes.api(
    "POST",
    "/api/devices/{device_id}/credential/rotate",
    roles=ADMIN,
    response=CredentialOut,
    status=201,
    errors=(404, 409),
    summary="Replace a device's credential; the old one stops at once",
)
async def rotate_credential(request: web.Request, who: Principal) -> CredentialOut:
    """For a device whose secret may have leaked; the device must be given the new one."""
    async with request.app[DATABASE].transaction() as session:
        device = await services.get_device(session, who, request.match_info["device_id"])
        if device.lifecycle == "retired":
            raise Conflict("A retired device gets no credential.")
        now = request.app[CLOCK].now()
        credential = await services.issue_credential(session, device, now)
        await revoke_identity(request.app, session, Identity.DEVICE, device.id, now)
        record_request(request, session, who, "device.credential_rotate", "device", device.id)
    await request.app[DEVICE_HUB].disconnect(device.id, CLOSE_AUTH, "credential rotated")
    return CredentialOut(device_id=device.id, name=device.name, credential=credential)


@routes.api(
    "POST",
    "/api/devices/{device_id}/credential/revoke",
    roles=ADMIN,
    status=204,
    errors=(404,),
    summary="Revoke a device's credential and close its socket",
)
async def revoke_credential(request: web.Request, who: Principal) -> None:
    """The device must be paired again to connect."""
    async with request.app[DATABASE].transaction() as session:
        device = await services.get_device(session, who, request.match_info["device_id"])
        now = request.app[CLOCK].now()
        await services.revoke_credentials(session, device.id, now)
        await revoke_identity(request.app, session, Identity.DEVICE, device.id, now)
        device.paired_at = None
        record_request(request, session, who, "device.credential_revoke", "device", device.id)
    await request.app[DEVICE_HUB].disconnect(device.id, CLOSE_AUTH, "credential revoked")


@routes.api(
    "POST",
    "/api/devices/{device_id}/commands",
    roles=COMMANDERS,
    body=CommandIn,
    response=CommandOut,
    status=202,
    errors=(404, 409),
    summary="Send identify, restart or update_settings to a connected device",
)
async def send_command(request: web.Request, who: Principal, body: CommandIn) -> CommandOut:
    """Refused with 409 when the device is not connected."""
    hub = request.app[DEVICE_HUB]
    async with request.app[DATABASE].transaction() as session:
        device = await services.get_device(session, who, request.match_info["device_id"])
        if not hub.reachable(device.id, device.online):
            raise Conflict(f"{device.name} is not connected, so it cannot take commands.")
        record = await services.record_command(
            session, who, device, body.command, body.args, request.app[CLOCK].now()
        )
        record_request(
            request, session, who, f"device.command.{body.command.value}", "device", device.id
        )
    message = CommandMessage(command_id=record.id, command=body.command, args=body.args)
    await hub.send(device.id, message.model_dump(mode="json"))
    return CommandOut(
        id=record.id,
        command=body.command,
        status=record.status,
        detail="",
        created_at=record.created_at,
        acked_at=None,
    )


@routes.api(
    "GET",
    "/api/devices/{device_id}/commands",
    roles=STAFF,
    response=list[CommandOut],
    errors=(404,),
    summary="Recent commands and their acks",
)
async def list_commands(request: web.Request, who: Principal) -> list[CommandOut]:
    """The last 50 commands, newest first."""
    async with request.app[DATABASE].sessions() as session:
        device = await services.get_device(session, who, request.match_info["device_id"])
        rows = await session.scalars(
            select(DeviceCommandRecord)
            .where(DeviceCommandRecord.device_id == device.id)
            .order_by(DeviceCommandRecord.created_at.desc())
            .limit(50)
        )
        return [
            CommandOut(
                id=r.id,
                command=r.command,
                status=r.status,
                detail=r.detail,
                created_at=r.created_at,
                acked_at=r.acked_at,
            )
            for r in rows
        ]


@routes.api(
    "GET",
    "/api/devices/{device_id}/telemetry",
    roles=STAFF,
    query=HistoryQuery,
    response=list[TelemetryOut],
    errors=(404,),
    summary="Downsampled telemetry history (one reading a minute at most)",
)
async def telemetry(
    request: web.Request, who: Principal, query: HistoryQuery
) -> list[TelemetryOut]:
    """Oldest first, for charts."""
    since = request.app[CLOCK].now() - timedelta(hours=query.hours)
    async with request.app[DATABASE].sessions() as session:
        device = await services.get_device(session, who, request.match_info["device_id"])
        rows = await session.scalars(
            select(TelemetrySample)
            .where(TelemetrySample.device_id == device.id, TelemetrySample.at >= since)
            .order_by(TelemetrySample.at)
            .limit(5000)
        )
        return [
            TelemetryOut(
                at=r.at,
                battery_pct=r.battery_pct,
                charging=r.charging,
                signal_dbm=r.signal_dbm,
                network_type=r.network_type,
                room=r.room,
            )
            for r in rows
        ]
