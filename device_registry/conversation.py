"""The device's side of ``/ws/device`` (protocol version 1, docs/protocol.md), after the upgrade.

Shared by the service's socket (``device_registry.socket``) and the device gateway
(``device_registry.gateway``), so that both speak the protocol byte for byte alike:
the hello, the welcome, the limits and the errors. What a message leads to is the
``LinkHub``'s (written behind, handed to the lessons, an acknowledgement stored).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from aiohttp import WSMsgType, web
from pydantic import ValidationError

from device_registry.domain import LiveTelemetry
from device_registry.links import Link, LinkHub
from device_registry.protocol import (
    CLOSE_HELLO_TIMEOUT,
    CLOSE_VERSION,
    HELLO_TIMEOUT_S,
    MAX_MESSAGE_BYTES,
    MESSAGES_PER_SECOND,
    PROTOCOL_VERSIONS,
    AckMessage,
    ErrorMessage,
    HeartbeatMessage,
    HelloMessage,
    SessionRejoinMessage,
    WelcomeMessage,
    parse_device_message,
)
from telepresence.platform.errors import validation_errors

__all__ = ["HARD_LIMIT_BYTES", "converse", "device_socket", "keepalive_seconds"]

HARD_LIMIT_BYTES = 1_048_576  # past this aiohttp closes the socket (1009)
log = structlog.get_logger("classbridge.devices")
CLOSED_TYPES = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR})


class _Budget:
    """A token bucket: ``rate`` messages a second, bursts of twice that."""

    __slots__ = ("rate", "tokens", "updated")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate * 2
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate * 2, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _error(code: str, detail: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    msg = ErrorMessage(code=code, detail=detail, errors=errors or [])
    return msg.model_dump(mode="json")


def _check_frame(data: str) -> tuple[Any | None, dict[str, Any] | None]:
    """Parse a text frame: the message, or the error to answer with."""
    if len(data) > MAX_MESSAGE_BYTES:
        return None, _error("too_large", f"Messages are limited to {MAX_MESSAGE_BYTES} bytes.")
    try:
        return parse_device_message(data), None
    except ValidationError as exc:
        errors = validation_errors(exc)
        if any(e["type"] == "union_tag_invalid" for e in errors):
            return None, _error("unknown_type", "Unknown message type.", errors)
        return None, _error("invalid_message", "The message is not valid.", errors)


def keepalive_seconds(heartbeat_seconds: float) -> float:
    """Silence after which a device is pinged (``LinkHub.keepalive``): a device that does
    not answer either is dropped half that later, 1.5 periods after its last message."""
    return heartbeat_seconds + 5.0


def device_socket() -> web.WebSocketResponse:
    """The websocket response for a device.

    No per-socket keep-alive timer (aiohttp's ``heartbeat=`` resets one on every frame):
    ``LinkHub.sweep`` pings silent devices once a second over all links, and pings and
    pongs are answered and noted here (``autoping=False``).
    """
    return web.WebSocketResponse(autoping=False, max_msg_size=HARD_LIMIT_BYTES)


async def _await_hello(ws: web.WebSocketResponse) -> HelloMessage | None:
    """Read frames until a valid hello; None if the socket closed or timed out."""
    deadline = time.monotonic() + HELLO_TIMEOUT_S
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            await ws.close(code=CLOSE_HELLO_TIMEOUT, message=b"hello expected")
            return None
        try:
            msg = await ws.receive(timeout=remaining)
        except TimeoutError:
            continue
        if msg.type != WSMsgType.TEXT:
            if msg.type in CLOSED_TYPES:
                return None
            if msg.type is WSMsgType.PING:
                await ws.pong(msg.data)
                continue
            if msg.type is WSMsgType.PONG:
                continue
            await ws.send_json(_error("invalid_message", "Send JSON text frames."))
            continue
        parsed, error = _check_frame(msg.data)
        if error is not None:
            await ws.send_json(error)
        elif isinstance(parsed, HelloMessage):
            return parsed
        else:
            await ws.send_json(_error("hello_first", "Say hello before anything else."))


async def converse(
    ws: web.WebSocketResponse,
    hub: LinkHub,
    *,
    device_id: str,
    provider_id: str,
    name: str,
    heartbeat_seconds: float,
    transport: asyncio.BaseTransport | None,
) -> None:
    """Hello, welcome, then serve the device until its socket closes (``ws`` is prepared).

    The caller authenticated the device (``device_id``, ``provider_id``, ``name``);
    ``transport`` (the request's) is closed when the device stays silent.
    """
    hello = await _await_hello(ws)
    if hello is None:
        return
    common = set(hello.protocol) & set(PROTOCOL_VERSIONS)
    if not common:
        await ws.send_json(_error("invalid_message", f"Supported versions: {PROTOCOL_VERSIONS}"))
        await ws.close(code=CLOSE_VERSION, message=b"no common protocol version")
        return
    version = max(common)
    del common
    # Everything the socket needs came with authentication; what the device says
    # about itself is written behind with its telemetry (no database trip here).
    reported = {"reported_model": hello.model, "software_version": hello.software_version}
    in_session = hello.session_id
    del hello
    link = Link(
        ws=ws,
        device_id=device_id,
        provider_id=provider_id,
        last_seen=hub.clock.now(),
        transport=transport,
    )
    await hub.attach(link)
    hub.describe(link, reported)
    del reported
    try:
        await ws.send_json(
            WelcomeMessage(
                protocol=version,
                device_id=device_id,
                name=name,
                heartbeat_seconds=heartbeat_seconds,
                server_time=hub.clock.now(),
            ).model_dump(mode="json")
        )
        # After welcome: a robot that restarted, or came online late, is invited back
        # to the lesson it should be in (in the background; the socket goes on).
        hub.welcomed(device_id, in_session)
        del in_session
        await _serve(ws, hub, link)
    except ConnectionResetError as exc:
        # The device went away while we wrote to it: expected, one quiet line.
        log.info("device_socket_lost", device=device_id, error=str(exc))
    finally:
        hub.detach(link)


async def _serve(ws: web.WebSocketResponse, hub: LinkHub, link: Link) -> None:
    budget = _Budget(MESSAGES_PER_SECOND)
    async for msg in ws:
        hub.hear(link)
        if msg.type is WSMsgType.PING:
            await ws.pong(msg.data)
            continue
        if msg.type is WSMsgType.PONG:
            continue
        if msg.type in CLOSED_TYPES:
            # 1007 (not UTF-8), 1009 (too big), a ping not answered: expected, and nothing
            # can be written to a closing socket. One quiet line.
            log.info("device_socket_closed", device=link.device_id, code=ws.close_code)
            return
        if msg.type != WSMsgType.TEXT:
            await ws.send_json(_error("invalid_message", "Send JSON text frames."))
        elif not budget.take():
            await ws.send_json(_error("rate_limited", "Too many messages; slow down."))
        else:
            await _on_frame(ws, hub, link, msg.data)


async def _on_frame(ws: web.WebSocketResponse, hub: LinkHub, link: Link, data: str) -> None:
    # A function of its own so that the parsed message is released when it returns
    # instead of living on in the socket's loop (10,000 idle sockets, 1 KB each).
    parsed, error = _check_frame(data)
    if error is not None:
        await ws.send_json(error)
    elif isinstance(parsed, HeartbeatMessage):
        hub.report(
            link,
            LiveTelemetry(
                at=hub.clock.now(),
                battery_pct=parsed.battery_pct,
                charging=parsed.charging,
                signal_dbm=parsed.signal_dbm,
                network_type=parsed.network_type,
                room=parsed.room,
            ),
        )
    elif isinstance(parsed, AckMessage):
        known = await hub.acknowledge(
            link.device_id, parsed.command_id, ok=parsed.ok, detail=parsed.detail
        )
        if not known:
            await ws.send_json(_error("unknown_command", "No such command was sent to you."))
    elif isinstance(parsed, SessionRejoinMessage):
        answer = await hub.rejoin(link.device_id, parsed.session_id)
        if answer is not None:
            await ws.send_json(answer)
    else:
        await ws.send_json(_error("duplicate_hello", "Hello was already said."))
