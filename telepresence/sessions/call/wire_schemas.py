"""JSON Schemas of both directions of both sockets, generated from the code's models.

``python -m telepresence.sessions.call.wire_schemas docs/schemas`` writes them;
tests/unit/sessions/call/test_wire_schemas.py fails when the files differ from the
models, and tests/integration/test_server_messages.py validates every message
the server sends against them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from device_registry.protocol import (
    AckMessage,
    CommandMessage,
    ErrorMessage,
    HeartbeatMessage,
    HelloMessage,
    SessionRejoinMessage,
    WelcomeMessage,
)
from telepresence.sessions.call.protocol import (
    ClientMessage,
    RelayInvite,
    RelayStop,
    SessionClosed,
    SessionInvite,
)
from telepresence.sessions.call.server_messages import ServerMessage

__all__ = ["SCHEMA_FILES", "socket_schemas", "write_schemas"]

BASE = "https://classbridge.invalid/schemas/"
SCHEMA_FILES: dict[str, tuple[str, Any]] = {
    "device-to-server.json": (
        "Messages a device sends on /ws/device (protocol 1).",
        Annotated[
            HelloMessage | HeartbeatMessage | AckMessage | SessionRejoinMessage,
            Field(discriminator="type"),
        ],
    ),
    "server-to-device.json": (
        "Messages the server sends on /ws/device (protocol 1).",
        Annotated[
            WelcomeMessage
            | CommandMessage
            | ErrorMessage
            | SessionInvite
            | SessionClosed
            | RelayInvite
            | RelayStop,
            Field(discriminator="type"),
        ],
    ),
    "session-client-to-server.json": (
        "Messages a pupil's tablet or a robot sends on /ws/session (protocol 1).",
        ClientMessage,
    ),
    "session-server-to-client.json": (
        "Messages the server sends on /ws/session (protocol 1).",
        ServerMessage,
    ),
}


def socket_schemas() -> dict[str, dict[str, Any]]:
    """Each file name and its JSON Schema (draft 2020-12)."""
    out = {}
    for name, (title, union) in SCHEMA_FILES.items():
        schema = TypeAdapter(union).json_schema()
        out[name] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": BASE + name,
            "title": title,
            **schema,
        }
    return out


def write_schemas(folder: Path) -> None:
    """Write every schema into ``folder`` (sorted keys, two-space indent, final newline)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, schema in socket_schemas().items():
        text = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (folder / name).write_text(text)


if __name__ == "__main__":
    write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas"))
