"""Request and response models of the device registry's HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from device_registry.domain import Capability, Command, DeviceKind, Lifecycle
from telepresence.platform.http.routing import Schema

__all__ = [
    "CommandIn",
    "CommandOut",
    "CredentialOut",
    "DeviceIn",
    "DeviceOut",
    "DevicePatch",
    "PairIn",
    "PairingCodeOut",
    "TelemetryOut",
]

SERIAL = r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$"


class DeviceIn(Schema):
    """A robot or tablet to register."""

    serial: str = Field(pattern=SERIAL, description="The maker's serial number.")
    name: str = Field(min_length=1, max_length=100, description="What people call it.")
    model: str = Field(min_length=1, max_length=100)
    kind: DeviceKind
    capabilities: list[Capability] = Field(default_factory=list, max_length=16)
    school_id: str | None = Field(default=None, max_length=32)
    pupil_id: str | None = Field(default=None, max_length=32)
    charging_base_room_id: str | None = Field(default=None, max_length=32)


class DevicePatch(Schema):
    """Changes to a device; absent fields stay as they are, null clears an assignment."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    lifecycle: Lifecycle | None = None
    school_id: str | None = Field(default=None, max_length=32)
    pupil_id: str | None = Field(default=None, max_length=32)
    charging_base_room_id: str | None = Field(default=None, max_length=32)
    last_known_room_id: str | None = Field(default=None, max_length=32)

    @field_validator("name", "lifecycle")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null: leave the field out to keep it as it is")
        return value


class DeviceOut(BaseModel):
    """A device as staff see it."""

    id: str
    serial: str
    name: str
    model: str
    kind: DeviceKind
    capabilities: list[Capability]
    lifecycle: Lifecycle
    paired: bool
    school_id: str | None
    school_name: str | None
    pupil_id: str | None
    pupil_display_name: str | None
    charging_base_room_id: str | None
    last_known_room_id: str | None
    last_known_room: str | None
    online: bool
    last_seen_at: datetime | None
    battery_pct: int | None
    charging: bool | None
    signal_dbm: int | None
    network_type: str | None
    reported_room: str | None
    software_version: str | None


class PairingCodeOut(BaseModel):
    """A one-time pairing code, shown once; the QR code (SVG) encodes ``pair_url``."""

    code: str
    expires_at: datetime
    pair_url: str
    qr_svg: str


class PairIn(Schema):
    """What a device sends to redeem its pairing code."""

    code: str = Field(min_length=8, max_length=12)
    serial: str | None = Field(default=None, pattern=SERIAL)


class CredentialOut(BaseModel):
    """A device credential: shown once, store it safely (0600)."""

    device_id: str
    name: str
    credential: str
    websocket_path: str = "/ws/device"


class CommandIn(Schema):
    """A command to send to a device."""

    command: Command
    args: dict[str, Any] = Field(default_factory=dict)


class CommandOut(BaseModel):
    """A command and what became of it."""

    id: str
    command: Command
    status: str
    detail: str
    created_at: datetime
    acked_at: datetime | None


class TelemetryOut(BaseModel):
    """One downsampled reading from a device's history."""

    at: datetime
    battery_pct: int | None
    charging: bool | None
    signal_dbm: int | None
    network_type: str | None
    room: str | None
