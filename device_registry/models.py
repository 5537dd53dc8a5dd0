"""Tables of the device registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from telepresence.platform.database import Base, new_id

__all__ = ["Device", "DeviceCommandRecord", "DeviceCredential", "PairingCode", "TelemetrySample"]


class Device(Base):
    """A robot or tablet, its assignment, lifecycle and latest telemetry."""

    __tablename__ = "devices"
    # A serial is unique within a provider: a server-wide check would tell one
    # provider which serials another has registered.
    __table_args__ = (Index("uq_devices_provider_serial", "provider_id", "serial", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), index=True)
    serial: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    lifecycle: Mapped[str] = mapped_column(String(12), default="active")
    school_id: Mapped[str | None] = mapped_column(ForeignKey("schools.id"), index=True)
    pupil_id: Mapped[str | None] = mapped_column(ForeignKey("pupils.id"), index=True)
    charging_base_room_id: Mapped[str | None] = mapped_column(ForeignKey("rooms.id"))
    last_known_room_id: Mapped[str | None] = mapped_column(ForeignKey("rooms.id"))
    paired_at: Mapped[datetime | None]
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None]
    battery_pct: Mapped[int | None] = mapped_column(Integer)
    charging: Mapped[bool | None] = mapped_column(Boolean)
    signal_dbm: Mapped[int | None] = mapped_column(Integer)
    network_type: Mapped[str | None] = mapped_column(String(10))
    reported_room: Mapped[str | None] = mapped_column(String(100))
    software_version: Mapped[str | None] = mapped_column(String(40))
    reported_model: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class PairingCode(Base):
    """A one-time code that lets a device fetch its credential (stored as a digest)."""

    __tablename__ = "pairing_codes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class DeviceCredential(Base):
    """A device's secret (stored as a digest); one live credential per device."""

    __tablename__ = "device_credentials"
    __table_args__ = (Index("ix_device_credentials_revoked_at", "revoked_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class TelemetrySample(Base):
    """One downsampled telemetry reading, kept for a bounded time."""

    __tablename__ = "telemetry_samples"
    __table_args__ = (Index("ix_telemetry_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(index=True)
    battery_pct: Mapped[int | None] = mapped_column(Integer)
    charging: Mapped[bool | None] = mapped_column(Boolean)
    signal_dbm: Mapped[int | None] = mapped_column(Integer)
    network_type: Mapped[str | None] = mapped_column(String(10))
    room: Mapped[str | None] = mapped_column(String(100))


class DeviceCommandRecord(Base):
    """A command sent to a device and its acknowledgement."""

    __tablename__ = "device_commands"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    command: Mapped[str] = mapped_column(String(30))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="sent")
    detail: Mapped[str] = mapped_column(String(500), default="")
    requested_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    acked_at: Mapped[datetime | None]
