"""The device websocket ``/ws/device`` of the service (protocol version 1, see docs/protocol.md).

The conversation itself is ``device_registry.conversation``'s, shared with the
device gateway; this module authenticates the device the service's way.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from device_registry.conversation import HARD_LIMIT_BYTES, converse, device_socket
from device_registry.hub import DeviceHub
from telepresence.platform.errors import Forbidden
from telepresence.platform.http.context import SETTINGS
from telepresence.platform.http.routing import PRINCIPAL, authenticate, require
from telepresence.platform.security.identity import Role

__all__ = ["DEVICE_HUB", "HARD_LIMIT_BYTES", "serve_device_socket"]

DEVICE_HUB = web.AppKey("device_hub", DeviceHub)


async def serve_device_socket(request: web.Request, _endpoint: Any) -> web.StreamResponse:
    """Authenticate by ``Authorization: Bearer <device credential>``, then speak v1."""
    who = require(await authenticate(request), frozenset({Role.DEVICE}))
    assert who is not None
    if who.role is not Role.DEVICE:
        raise Forbidden("Only devices connect here.")
    heartbeat = request.app[SETTINGS].heartbeat_seconds
    ws = device_socket()
    await ws.prepare(request)
    device_id, provider_id, name = who.subject_id, who.provider_id or "", who.display_name
    del who
    request.pop(PRINCIPAL, None)  # 10,000 idle sockets: keep only what the loop uses
    await converse(
        ws,
        request.app[DEVICE_HUB],
        device_id=device_id,
        provider_id=provider_id,
        name=name,
        heartbeat_seconds=heartbeat,
        transport=request.transport,
    )
    return ws
