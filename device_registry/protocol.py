"""Messages of the device websocket ``/ws/device``, protocol version 1.

docs/protocol.md is written from these models; change both together.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from device_registry.domain import Capability, Command, NetworkType

__all__ = [
    "CLOSE_AUTH",
    "CLOSE_HELLO_TIMEOUT",
    "CLOSE_REPLACED",
    "CLOSE_RETIRED",
    "CLOSE_VERSION",
    "MAX_MESSAGE_BYTES",
    "PROTOCOL_VERSIONS",
    "AckMessage",
    "CommandMessage",
    "DeviceMessage",
    "ErrorMessage",
    "HeartbeatMessage",
    "HelloMessage",
    "SessionRejoinMessage",
    "WelcomeMessage",
    "parse_device_message",
]

PROTOCOL_VERSIONS = (1,)
MAX_MESSAGE_BYTES = 16_384
MESSAGES_PER_SECOND = 5
HELLO_TIMEOUT_S = 10.0

CLOSE_AUTH = 4401  # credential revoked or invalid
CLOSE_RETIRED = 4403  # the device was retired
CLOSE_HELLO_TIMEOUT = 4408  # no hello in time
CLOSE_REPLACED = 4409  # the same device connected again elsewhere
CLOSE_VERSION = 4426  # no protocol version in common


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HelloMessage(_Message):
    """Device → server, first: who I am and which protocol versions I speak."""

    type: Literal["hello"]
    protocol: list[int] = Field(min_length=1, max_length=8)
    model: str = Field(min_length=1, max_length=100)
    software_version: str = Field(min_length=1, max_length=40)
    capabilities: list[Capability] = Field(default_factory=list, max_length=16)
    session_id: str | None = Field(
        default=None,
        max_length=64,
        description=(
            "The live lesson session the device is in right now (from its session_invite), "
            "or null. The server invites a robot to its open lesson when it is not in it."
        ),
    )


class HeartbeatMessage(_Message):
    """Device → server, every ``heartbeat_seconds``: telemetry."""

    type: Literal["heartbeat"]
    seq: int = Field(ge=0)
    battery_pct: int | None = Field(default=None, ge=0, le=100)
    charging: bool | None = None
    signal_dbm: int | None = Field(default=None, ge=-130, le=0)
    network_type: NetworkType = NetworkType.UNKNOWN
    room: str | None = Field(default=None, max_length=100)


class AckMessage(_Message):
    """Device → server: the outcome of a command."""

    type: Literal["ack"]
    command_id: str = Field(min_length=1, max_length=64)
    ok: bool
    detail: str = Field(default="", max_length=500)


class SessionRejoinMessage(_Message):
    """Device → server: a fresh token for this lesson session, please (after a 4401 there).

    Answered with a ``session_invite`` carrying a new token, or with ``session_end``
    when the session is over or not this device's.
    """

    type: Literal["session_rejoin"]
    session_id: str = Field(min_length=1, max_length=64)


DeviceMessage = Annotated[
    HelloMessage | HeartbeatMessage | AckMessage | SessionRejoinMessage,
    Field(discriminator="type"),
]
AnyDeviceMessage = HelloMessage | HeartbeatMessage | AckMessage | SessionRejoinMessage
_device_adapter: TypeAdapter[AnyDeviceMessage] = TypeAdapter(DeviceMessage)


def parse_device_message(raw: str) -> AnyDeviceMessage:
    """Validate one text frame; raises ``pydantic.ValidationError``."""
    return _device_adapter.validate_json(raw)


class WelcomeMessage(_Message):
    """Server → device, after hello: the session's terms."""

    type: Literal["welcome"] = "welcome"
    protocol: int
    device_id: str
    name: str
    heartbeat_seconds: float
    server_time: datetime


class CommandMessage(_Message):
    """Server → device: do something, then ack with ``command_id``."""

    type: Literal["command"] = "command"
    command_id: str
    command: Command
    args: dict[str, Any] = Field(default_factory=dict)


class ErrorMessage(_Message):
    """Server → device: a message was refused; nothing changed."""

    type: Literal["error"] = "error"
    code: Literal[
        "invalid_message",
        "unknown_type",
        "too_large",
        "hello_first",
        "rate_limited",
        "duplicate_hello",
        "unknown_command",
    ]
    detail: str
    errors: list[dict[str, str]] = Field(default_factory=list)


def schema_markdown() -> str:
    """The JSON schema of every message as Markdown, for docs/protocol.md.

    Regenerate with ``python -m device_registry.protocol``; a test checks the
    document holds exactly this text.
    """
    parts = []
    for model in (
        HelloMessage,
        HeartbeatMessage,
        AckMessage,
        SessionRejoinMessage,
        WelcomeMessage,
        CommandMessage,
        ErrorMessage,
    ):
        schema = json.dumps(model.model_json_schema(), indent=2, sort_keys=True, ensure_ascii=False)
        parts.append(f"#### `{model.__name__}`\n\n```json\n{schema}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(schema_markdown())
