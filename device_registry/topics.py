"""The event topics device sockets speak on, in-process and across processes.

Plain names and small functions with no imports of the service's stack: the
device gateway (``device_registry.gateway``) shares them with the service.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BATTERY_STEP",
    "CHANGES_TOPIC",
    "DISCONNECT_TOPIC",
    "LESSONS_TOPIC",
    "OUTBOX_TOPIC",
    "change_key",
    "fleet_topic",
    "lessons_key",
]

OUTBOX_TOPIC = "devices:outbox"
"""Service → device: ``{"device_id", "message"}``, delivered by whoever holds the socket."""
DISCONNECT_TOPIC = "devices:disconnect"
"""Service → device: ``{"device_id", "code", "reason"}``, closed by whoever holds the socket."""
LESSONS_TOPIC = "devices:lessons"
"""Gateway → service: a robot said hello (``{"device_id", "hello": session id or None}``) or
asked for a fresh session token (``{"device_id", "rejoin": session id}``)."""
CHANGES_TOPIC = "devices:changes"
"""Changes other packages act on (the rota): lifecycle set by staff, the room a device
reports when it differs from the last one it reported, and its battery when it enters
another ``BATTERY_STEP`` band or starts or stops charging (published after the reading
is written, so a listener reads it back)."""
BATTERY_STEP = 10


def fleet_topic(provider_id: str) -> str:
    """The event topic of a provider's fleet page."""
    return f"fleet:{provider_id}"


def change_key(event: dict[str, Any]) -> tuple[str, str]:
    """What a change on ``CHANGES_TOPIC`` is about: the device, and a battery reading, a
    reported room or a change made by staff. A newer change of the same key supersedes
    (is merged into) a pending one: the rota acts on the latest state of each."""
    device_id = str(event.get("device_id", ""))
    if "lifecycle" in event or "charging_base_room_id" in event:
        return device_id, "staff"
    if "battery_pct" in event:
        return device_id, "reading"
    if "reported_room" in event:
        return device_id, "room"
    return device_id, "other"


def lessons_key(event: dict[str, Any]) -> tuple[str, str]:
    """What a question on ``LESSONS_TOPIC`` is about: a device's hello or its rejoin."""
    return str(event.get("device_id", "")), "rejoin" if "rejoin" in event else "hello"
