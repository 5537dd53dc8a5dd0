"""Readiness test calls: a device in a classroom calls the service's echo peer.

It sends its camera for a few seconds; the echo peer sends the picture back
and answers pings on a data channel. The device measures round-trip time,
loss, its uplink bitrate and the echoed frame rate, and reports them: that is
how a school finds the rooms where WiFi fails before a pupil does. The echo
decodes and re-encodes (aiortc), so at most a couple run at once and each
ends by itself; nothing of the media is kept.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select

from device_registry.models import Device
from telepresence.platform.errors import Conflict, InvalidInput, NotFound, RateLimited
from telepresence.platform.http.context import CLOCK, DATABASE, SETTINGS
from telepresence.platform.http.routing import Routes, Schema
from telepresence.platform.models import Room
from telepresence.platform.security.identity import STAFF, Principal, Role
from telepresence.sessions import services
from telepresence.sessions.call.protocol import MAX_SDP_BYTES, check_sdp
from telepresence.sessions.domain import ice_servers
from telepresence.sessions.joining.readiness_models import ReadinessCheck

__all__ = ["ECHOES", "EchoPeers", "routes", "verdict"]

ECHO_SECONDS = 20.0
MAX_ECHOES = 2
CHECKS_PER_HOUR = 12  # per device: a room is checked a few times a term, not in a loop
routes = Routes("readiness")


def verdict(rtt_ms: float | None, loss_pct: float | None, fps: float | None) -> str:
    """``good``, ``fair`` or ``poor`` for a lesson from this room."""
    if (loss_pct or 0) > 5 or (rtt_ms or 0) > 400 or (fps is not None and fps < 10):
        return "poor"
    if (loss_pct or 0) > 1 or (rtt_ms or 0) > 150 or (fps is not None and fps < 20):
        return "fair"
    return "good"


class EchoPeers:
    """The echo peer connections of this process; each closes after ``ECHO_SECONDS``."""

    def __init__(self, limit: int = MAX_ECHOES) -> None:
        self.limit = limit
        self._peers: dict[str, Any] = {}
        self._timers: set[asyncio.Task[None]] = set()

    async def answer(self, check_id: str, sdp: str, ice: list[dict[str, Any]]) -> str:
        """Echo the offered media back; returns the answer SDP."""
        from aiortc import RTCPeerConnection, RTCSessionDescription
        from aiortc.contrib.media import MediaRelay

        from telepresence.agent.lesson import ice_configuration

        if len(self._peers) >= self.limit:
            raise RateLimited(
                "Another room is being tested; try again in a minute.",
                retry_after=int(ECHO_SECONDS),
            )
        pc = RTCPeerConnection(ice_configuration(ice))
        self._peers[check_id] = pc
        relay = MediaRelay()
        pc.on("track", lambda track: pc.addTrack(relay.subscribe(track, buffered=False)))

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            channel.on("message", channel.send)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        except ValueError as exc:  # e.g. no ICE credentials, no DTLS fingerprint
            await self.close_one(check_id)
            raise InvalidInput(
                "The offer cannot be answered.",
                errors=[{"field": "sdp", "message": str(exc)[:200]}],
            ) from None
        await pc.setLocalDescription(await pc.createAnswer())
        timer = asyncio.ensure_future(self._close_later(check_id))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)
        return str(pc.localDescription.sdp)

    async def _close_later(self, check_id: str) -> None:
        await asyncio.sleep(ECHO_SECONDS)
        await self.close_one(check_id)

    async def close_one(self, check_id: str) -> None:
        """End one echo call."""
        pc = self._peers.pop(check_id, None)
        if pc is not None:
            await pc.close()

    async def close(self) -> None:
        """End every echo call (shutdown)."""
        for timer in list(self._timers):
            timer.cancel()
        for check_id in list(self._peers):
            await self.close_one(check_id)


ECHOES = web.AppKey("echo_peers", EchoPeers)


class StartIn(Schema):
    """Where the device believes it is."""

    room: str = Field(default="", max_length=100)


class StartOut(BaseModel):
    """A readiness check the device may now call for."""

    check_id: str
    ice_servers: list[dict[str, Any]]
    seconds: float


class OfferIn(Schema):
    """A WebRTC offer (SDP): a device's test call, a watcher's or the robot's relay leg."""

    sdp: str = Field(min_length=10, max_length=MAX_SDP_BYTES)

    _valid = field_validator("sdp")(check_sdp)


class AnswerOut(BaseModel):
    """The echo peer's answer."""

    sdp: str


class ResultIn(Schema):
    """What the device measured."""

    rtt_ms: float | None = Field(default=None, ge=0, le=60_000)
    loss_pct: float | None = Field(default=None, ge=0, le=100)
    bitrate_kbps: float | None = Field(default=None, ge=0, le=100_000)
    fps: float | None = Field(default=None, ge=0, le=240)


class CheckOut(BaseModel):
    """One room's check, for staff."""

    id: str
    device_id: str
    room: str
    started_at: Any
    rtt_ms: float | None
    loss_pct: float | None
    bitrate_kbps: float | None
    fps: float | None
    verdict: str | None


class ChecksQuery(Schema):
    """Which school's rooms."""

    school_id: str = Field(max_length=32)
    days: int = Field(default=30, ge=1, le=365)


async def _own_check(request: web.Request, who: Principal) -> ReadinessCheck:
    async with request.app[DATABASE].sessions() as db:
        check = await db.get(ReadinessCheck, request.match_info["check_id"])
    if check is None or check.device_id != who.subject_id:
        raise NotFound("There is no such readiness check for this device.")
    return check


@routes.api(
    "POST",
    "/api/readiness",
    roles=[Role.DEVICE],
    body=StartIn,
    response=StartOut,
    status=201,
    summary="A device starts a readiness test call from its room",
)
async def start(request: web.Request, who: Principal, body: StartIn) -> StartOut:
    """The ICE servers are the same a lesson from this room would get.

    At most ``CHECKS_PER_HOUR`` a device: a room is checked a few times a term.
    """
    now = request.app[CLOCK].now()
    async with request.app[DATABASE].transaction() as db:
        device = await db.get(Device, who.subject_id)
        assert device is not None
        recent = await db.scalar(
            select(func.count())
            .select_from(ReadinessCheck)
            .where(
                ReadinessCheck.device_id == device.id,
                ReadinessCheck.started_at > now - timedelta(hours=1),
            )
        )
        if (recent or 0) >= CHECKS_PER_HOUR:
            raise RateLimited(
                f"This device has started {CHECKS_PER_HOUR} checks in the last hour; "
                "try again later.",
                retry_after=600,
            )
        # The room the check is filed under is the one the school's room list shows:
        # what the device says, else where staff or the rota last put it.
        known = await db.get(Room, device.last_known_room_id) if device.last_known_room_id else None
        check = ReadinessCheck(
            device_id=device.id,
            school_id=device.school_id,
            room=body.room or device.reported_room or (known.name if known else ""),
            started_at=request.app[CLOCK].now(),
        )
        db.add(check)
        await db.flush()
    expires = request.app[CLOCK].now() + timedelta(seconds=ECHO_SECONDS * 3)
    ice = ice_servers(services.turn_settings(request.app[SETTINGS]), check.id, expires)
    return StartOut(check_id=check.id, ice_servers=ice, seconds=ECHO_SECONDS)


@routes.api(
    "POST",
    "/api/readiness/{check_id}/offer",
    roles=[Role.DEVICE],
    body=OfferIn,
    response=AnswerOut,
    errors=(404, 409, 429),
    summary="Call the echo peer",
)
async def offer(request: web.Request, who: Principal, body: OfferIn) -> AnswerOut:
    """Once per check."""
    check = await _own_check(request, who)
    if check.finished_at is not None:
        raise Conflict("This check has finished; start another.")
    ice = ice_servers(
        services.turn_settings(request.app[SETTINGS]),
        check.id,
        request.app[CLOCK].now() + timedelta(seconds=ECHO_SECONDS),
    )
    return AnswerOut(sdp=await request.app[ECHOES].answer(check.id, body.sdp, ice))


@routes.api(
    "POST",
    "/api/readiness/{check_id}/result",
    roles=[Role.DEVICE],
    body=ResultIn,
    response=CheckOut,
    errors=(404, 409),
    summary="Report what the test call measured",
)
async def result(request: web.Request, who: Principal, body: ResultIn) -> CheckOut:
    """Stored with the room and the time; reported once."""
    check = await _own_check(request, who)
    await request.app[ECHOES].close_one(check.id)
    async with request.app[DATABASE].transaction() as db:
        row = await db.get(ReadinessCheck, check.id)
        assert row is not None
        if row.finished_at is not None:
            raise Conflict("This check was reported already.")
        for key, value in body.model_dump().items():
            setattr(row, key, value)
        row.verdict = verdict(body.rtt_ms, body.loss_pct, body.fps)
        row.finished_at = request.app[CLOCK].now()
        return CheckOut.model_validate(row, from_attributes=True)


@routes.api(
    "GET",
    "/api/readiness",
    roles=list(STAFF),
    query=ChecksQuery,
    response=list[CheckOut],
    summary="Recent readiness checks of a school's rooms",
)
async def checks(request: web.Request, who: Principal, query: ChecksQuery) -> list[CheckOut]:
    """Newest first; only finished checks."""
    since = request.app[CLOCK].now() - timedelta(days=query.days)
    async with request.app[DATABASE].sessions() as db:
        rows = await db.scalars(
            select(ReadinessCheck)
            .join(Device, Device.id == ReadinessCheck.device_id)
            .where(
                ReadinessCheck.school_id == query.school_id,
                Device.provider_id == who.provider_id,
                ReadinessCheck.finished_at.is_not(None),
                ReadinessCheck.started_at >= since,
            )
            .order_by(ReadinessCheck.started_at.desc())
            .limit(500)
        )
        return [CheckOut.model_validate(r, from_attributes=True) for r in rows]
