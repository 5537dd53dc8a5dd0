"""The device registry's domain: kinds, lifecycle, pairing codes, presence, telemetry.

Plain Python, no I/O: time is always a parameter.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "DEFAULT_CAPABILITIES",
    "PAIRING_ALPHABET",
    "ROBOT_ONLY",
    "Capability",
    "Command",
    "DeviceKind",
    "Lifecycle",
    "LiveTelemetry",
    "NetworkType",
    "check_lifecycle_change",
    "format_pairing_code",
    "is_online",
    "new_pairing_code",
    "normalise_pairing_code",
    "sample_due",
]

# No 0/O, 1/I/L, 5/S or 8/B: a code read aloud or typed from a label is not misread.
PAIRING_ALPHABET = "ACDEFGHJKMNPQRTUVWXYZ234679"
PAIRING_CODE_LENGTH = 8


class DeviceKind(enum.StrEnum):
    """A robot sits in the classroom; a tablet is the pupil's end (or a classroom stand)."""

    ROBOT = "robot"
    TABLET = "tablet"


class Lifecycle(enum.StrEnum):
    """Whether a device can be used."""

    ACTIVE = "active"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


class Capability(enum.StrEnum):
    """What a device can do."""

    CAMERA = "camera"
    MICROPHONE = "microphone"
    SPEAKER = "speaker"
    HEAD_PAN_TILT = "head_pan_tilt"
    LIGHTS = "lights"
    BATTERY = "battery"
    DISPLAY = "display"


ROBOT_ONLY = frozenset({Capability.HEAD_PAN_TILT, Capability.LIGHTS})
"""What only a robot has: a motorised neck and status lights."""

DEFAULT_CAPABILITIES: dict[DeviceKind, tuple[Capability, ...]] = {
    DeviceKind.ROBOT: (
        Capability.CAMERA,
        Capability.MICROPHONE,
        Capability.SPEAKER,
        Capability.HEAD_PAN_TILT,
        Capability.LIGHTS,
        Capability.BATTERY,
    ),
    DeviceKind.TABLET: (
        Capability.CAMERA,
        Capability.MICROPHONE,
        Capability.SPEAKER,
        Capability.DISPLAY,
        Capability.BATTERY,
    ),
}
"""What a new device of each kind is registered with unless told otherwise."""


class NetworkType(enum.StrEnum):
    """How a device reaches the network."""

    WIFI = "wifi"
    ETHERNET = "ethernet"
    CELLULAR = "cellular"
    UNKNOWN = "unknown"


class Command(enum.StrEnum):
    """Commands the server may send to a device."""

    IDENTIFY = "identify"
    RESTART = "restart"
    UPDATE_SETTINGS = "update_settings"
    READINESS_TEST = "readiness_test"


class LifecycleError(ValueError):
    """A lifecycle change that is not allowed."""


def check_lifecycle_change(current: Lifecycle, new: Lifecycle) -> None:
    """Raise ``LifecycleError`` unless ``current`` may become ``new``.

    Retirement is final: a retired device's credential is gone and its serial
    stays on record; bring it back by registering it anew.
    """
    if current is Lifecycle.RETIRED and new is not Lifecycle.RETIRED:
        raise LifecycleError("A retired device cannot be brought back; register it again.")


def new_pairing_code() -> str:
    """A fresh one-time pairing code of unambiguous characters (about 38 bits)."""
    return "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(PAIRING_CODE_LENGTH))


def format_pairing_code(code: str) -> str:
    """``ABCD-EFGH``: the code as shown to people."""
    return f"{code[:4]}-{code[4:]}"


def normalise_pairing_code(text: str) -> str | None:
    """The canonical code from what someone typed (case, spaces, dashes), or None."""
    code = "".join(ch for ch in text.upper() if ch not in " -")
    if len(code) != PAIRING_CODE_LENGTH or any(ch not in PAIRING_ALPHABET for ch in code):
        return None
    return code


def is_online(
    connected: bool,
    last_seen: datetime | None,
    now: datetime,
    *,
    heartbeat_s: float,
    missed: int,
) -> bool:
    """Online means a socket is open and a heartbeat came within ``missed`` periods."""
    if not connected or last_seen is None:
        return False
    return now - last_seen <= timedelta(seconds=heartbeat_s * missed)


@dataclass(frozen=True, slots=True)
class LiveTelemetry:
    """The latest state a device reported."""

    at: datetime
    battery_pct: int | None
    charging: bool | None
    signal_dbm: int | None
    network_type: NetworkType
    room: str | None


def sample_due(last_kept: datetime | None, now: datetime, every: timedelta) -> bool:
    """Whether a telemetry sample is kept in history (history is downsampled)."""
    return last_kept is None or now - last_kept >= every
