"""Use cases of the device registry: register, assign, pair, credentials, commands."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from device_registry.domain import (
    ROBOT_ONLY,
    Command,
    DeviceKind,
    Lifecycle,
    LifecycleError,
    check_lifecycle_change,
    new_pairing_code,
    normalise_pairing_code,
)
from device_registry.models import Device, DeviceCommandRecord, DeviceCredential, PairingCode
from device_registry.schemas import DeviceIn, DevicePatch
from telepresence.platform.errors import Conflict, Gone, InvalidInput, NotFound
from telepresence.platform.models import Pupil, Room, School
from telepresence.platform.security.identity import (
    Principal,
    Role,
    TokenKind,
    hash_token,
    new_token,
)

__all__ = [
    "create_pairing_code",
    "get_device",
    "issue_credential",
    "list_devices",
    "record_ack",
    "record_command",
    "redeem_pairing_code",
    "register_device",
    "resolve_device_token",
    "revoke_credentials",
    "update_device",
]


async def get_device(session: AsyncSession, who: Principal, device_id: str) -> Device:
    """The device if it belongs to the caller's provider; ``NotFound`` otherwise."""
    device = await session.get(Device, device_id)
    if device is None or device.provider_id != who.provider_id:
        raise NotFound(f"There is no device {device_id!r}.")
    return device


async def list_devices(session: AsyncSession, who: Principal) -> list[Device]:
    """The caller's provider's devices, robots first, then by name."""
    rows = await session.scalars(
        select(Device)
        .where(Device.provider_id == who.provider_id)
        .order_by(Device.kind.desc(), Device.name)
    )
    return list(rows)


async def _check_assignment(
    session: AsyncSession,
    who: Principal,
    *,
    school_id: str | None,
    pupil_id: str | None,
    rooms: dict[str, str | None],
) -> None:
    """Every id in the body names something of the caller's provider (and of the school).

    A foreign id is reported exactly like a missing one, so nothing of another
    provider is confirmed or named.
    """
    problems: list[dict[str, str]] = []
    if school_id is not None:
        school = await session.get(School, school_id)
        if school is None or school.provider_id != who.provider_id:
            problems.append({"field": "school_id", "message": "No such school."})
    if pupil_id is not None:
        pupil = await session.get(Pupil, pupil_id)
        if pupil is None or pupil.provider_id != who.provider_id:
            problems.append({"field": "pupil_id", "message": "No such pupil."})
        elif school_id is not None and pupil.school_id != school_id:
            problems.append(
                {"field": "pupil_id", "message": "The pupil belongs to another school."}
            )
    for field, room_id in rooms.items():
        if room_id is not None and not await _room_fits(session, who, room_id, school_id):
            problems.append({"field": field, "message": "No such room."})
    if problems:
        raise InvalidInput("The assignment refers to things that do not fit.", errors=problems)


async def _room_fits(
    session: AsyncSession, who: Principal, room_id: str, school_id: str | None
) -> bool:
    """Whether the room is one of the caller's provider's, in the device's school if it has one."""
    query = (
        select(Room.id)
        .join(School, School.id == Room.school_id)
        .where(Room.id == room_id, School.provider_id == who.provider_id)
    )
    if school_id is not None:
        query = query.where(Room.school_id == school_id)
    return await session.scalar(query) is not None


async def register_device(
    session: AsyncSession, who: Principal, data: DeviceIn, now: datetime
) -> Device:
    """Register a device for the caller's provider; ``Conflict`` for a serial it already has.

    Serials are unique per provider, so another provider's devices are never told.
    """
    same = select(Device.id).where(
        Device.provider_id == who.provider_id, Device.serial == data.serial
    )
    if await session.scalar(same):
        raise Conflict(f"A device with serial {data.serial!r} is already registered.")
    if data.kind is DeviceKind.TABLET and ROBOT_ONLY & set(data.capabilities):
        raise InvalidInput(
            "A tablet has no motorised head or status lights.",
            errors=[{"field": "capabilities", "message": "head_pan_tilt and lights are a robot's"}],
        )
    await _check_assignment(
        session,
        who,
        school_id=data.school_id,
        pupil_id=data.pupil_id,
        rooms={"charging_base_room_id": data.charging_base_room_id},
    )
    assert who.provider_id is not None
    device = Device(
        provider_id=who.provider_id,
        serial=data.serial,
        name=data.name,
        model=data.model,
        kind=data.kind.value,
        capabilities=[c.value for c in data.capabilities],
        lifecycle=Lifecycle.ACTIVE.value,
        school_id=data.school_id,
        pupil_id=data.pupil_id,
        charging_base_room_id=data.charging_base_room_id,
        created_at=now,
    )
    session.add(device)
    await session.flush()
    return device


async def update_device(
    session: AsyncSession, who: Principal, device_id: str, patch: DevicePatch, now: datetime
) -> tuple[Device, bool]:
    """Apply a patch; returns the device and whether its socket must be closed."""
    device = await get_device(session, who, device_id)
    changes = patch.model_dump(exclude_unset=True)
    school_id = changes.get("school_id", device.school_id)
    await _check_assignment(
        session,
        who,
        school_id=school_id,
        pupil_id=changes.get("pupil_id", device.pupil_id),
        rooms={
            field: changes.get(field) for field in ("charging_base_room_id", "last_known_room_id")
        },
    )
    close = False
    if "lifecycle" in changes and changes["lifecycle"] is not None:
        new = Lifecycle(changes.pop("lifecycle"))
        try:
            check_lifecycle_change(Lifecycle(device.lifecycle), new)
        except LifecycleError as exc:
            raise Conflict(str(exc)) from None
        if new is Lifecycle.RETIRED and device.lifecycle != Lifecycle.RETIRED:
            device.retired_at = now
            device.pupil_id = None
            await revoke_credentials(session, device.id, now)
            close = True
        device.lifecycle = new.value
    if changes.get("name") is None:
        changes.pop("name", None)
    for key, value in changes.items():
        setattr(device, key, value)
    await session.flush()
    return device, close


async def create_pairing_code(
    session: AsyncSession, who: Principal, device_id: str, now: datetime, lifetime: timedelta
) -> tuple[str, PairingCode]:
    """A new one-time code for the device; earlier unused codes stop working."""
    device = await get_device(session, who, device_id)
    if device.lifecycle == Lifecycle.RETIRED:
        raise Conflict("A retired device cannot be paired.")
    await session.execute(
        update(PairingCode)
        .where(PairingCode.device_id == device.id, PairingCode.used_at.is_(None))
        .values(expires_at=now)
    )
    code = new_pairing_code()
    row = PairingCode(
        device_id=device.id,
        code_hash=hash_token(code),
        created_by=who.subject_id,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    await session.flush()
    return code, row


async def redeem_pairing_code(
    session: AsyncSession, text: str, serial: str | None, now: datetime
) -> tuple[str, Device]:
    """Exchange a pairing code for a new device credential (shown once)."""
    code = normalise_pairing_code(text)
    if code is None:
        raise InvalidInput(
            "That is not a pairing code: 8 letters and digits, like ACDE-F234.",
            errors=[{"field": "code", "message": "not a pairing code"}],
        )
    row = await session.scalar(select(PairingCode).where(PairingCode.code_hash == hash_token(code)))
    if row is None:
        raise NotFound("That pairing code is not known. Check it, or ask for a new one.")
    if row.used_at is not None:
        raise Gone("That pairing code has been used already. Ask for a new one.")
    if row.expires_at <= now:
        raise Gone("That pairing code has expired. Ask for a new one.")
    device = await session.get(Device, row.device_id)
    if device is None or device.lifecycle == Lifecycle.RETIRED:
        raise Gone("That device has been retired.")
    if serial is not None and serial != device.serial:
        raise Conflict("This code was made for another device (the serial differs).")
    row.used_at = now
    credential = await issue_credential(session, device, now)
    return credential, device


async def issue_credential(session: AsyncSession, device: Device, now: datetime) -> str:
    """Revoke the device's credentials and issue a new one (shown once)."""
    await revoke_credentials(session, device.id, now)
    credential = new_token(TokenKind.DEVICE)
    session.add(
        DeviceCredential(device_id=device.id, token_hash=hash_token(credential), created_at=now)
    )
    device.paired_at = now
    await session.flush()
    return credential


async def revoke_credentials(session: AsyncSession, device_id: str, now: datetime) -> int:
    """Revoke every live credential of a device; returns how many."""
    result = await session.execute(
        update(DeviceCredential)
        .where(DeviceCredential.device_id == device_id, DeviceCredential.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def resolve_device_token(
    session: AsyncSession, digest: str, _now: datetime
) -> Principal | None:
    """The device behind a live credential digest, or None (revoked, retired, unknown)."""
    row = await session.execute(
        select(Device)
        .join(DeviceCredential, DeviceCredential.device_id == Device.id)
        .where(DeviceCredential.token_hash == digest, DeviceCredential.revoked_at.is_(None))
    )
    device = row.scalar_one_or_none()
    if device is None or device.lifecycle == Lifecycle.RETIRED:
        return None
    return Principal(
        role=Role.DEVICE,
        subject_id=device.id,
        display_name=device.name,
        provider_id=device.provider_id,
        school_id=device.school_id,
    )


async def record_command(
    session: AsyncSession,
    who: Principal,
    device: Device,
    command: Command,
    args: dict[str, Any],
    now: datetime,
) -> DeviceCommandRecord:
    """Record a command about to be sent; ``Conflict`` for a retired device."""
    if device.lifecycle == Lifecycle.RETIRED:
        raise Conflict("A retired device takes no commands.")
    record = DeviceCommandRecord(
        device_id=device.id,
        command=command.value,
        args=args,
        status="sent",
        requested_by=who.subject_id,
        created_at=now,
    )
    session.add(record)
    await session.flush()
    return record


async def record_ack(
    session: AsyncSession,
    device_id: str,
    command_id: str,
    *,
    ok: bool,
    detail: str,
    now: datetime,
) -> bool:
    """Store a device's acknowledgement; False if the command is not that device's."""
    record = await session.get(DeviceCommandRecord, command_id)
    if record is None or record.device_id != device_id:
        return False
    if record.acked_at is None:
        record.status = "done" if ok else "failed"
        record.detail = detail
        record.acked_at = now
    return True
