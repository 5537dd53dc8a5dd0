"""The device's side of a readiness test call: measure this room's connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from telepresence.agent.lesson import ice_configuration

__all__ = ["measure_room"]


class _Echo:
    """Counts echoed frames and data-channel round trips."""

    def __init__(self) -> None:
        self.frames: list[float] = []
        self.rtts: list[float] = []
        self.tasks: list[asyncio.Task[None]] = []

    def on_track(self, track: MediaStreamTrack) -> None:
        self.tasks.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                if track.kind == "video":
                    self.frames.append(time.monotonic())

    def on_pong(self, raw: object) -> None:
        if isinstance(raw, str):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self.rtts.append((time.monotonic() - float(json.loads(raw)["t"])) * 1000)

    def fps(self) -> float | None:
        if len(self.frames) < 2:
            return None
        return (len(self.frames) - 1) / (self.frames[-1] - self.frames[0])


async def _stats(pc: RTCPeerConnection, seconds: float) -> tuple[float | None, float | None]:
    """Uplink bitrate (kbit/s) and loss (%) from the sender's and receivers' reports."""
    report = await pc.getStats()
    sent = sum(getattr(s, "bytesSent", 0) for s in report.values() if s.type == "outbound-rtp")
    lost = received = 0
    for s in report.values():
        if s.type in {"inbound-rtp", "remote-inbound-rtp"}:
            lost += max(getattr(s, "packetsLost", 0) or 0, 0)
            received += getattr(s, "packetsReceived", 0) or 0
    bitrate = sent * 8 / 1000 / seconds if sent else None
    loss = 100 * lost / (lost + received) if lost + received else None
    return bitrate, loss


async def measure_room(
    server: str,
    credential: str,
    video: MediaStreamTrack,
    *,
    room: str = "",
    seconds: float = 8.0,
) -> dict[str, Any]:
    """Call the service's echo peer for ``seconds`` and report the measurements."""
    headers = {"Authorization": f"Bearer {credential}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{server}/api/readiness", json={"room": room}) as resp:
            start = await resp.json()
            if resp.status != 201:
                raise RuntimeError(start.get("detail", "could not start a check"))
        pc = RTCPeerConnection(ice_configuration(start["ice_servers"]))
        echo = _Echo()
        try:
            pc.addTrack(video)
            channel = pc.createDataChannel("ping")
            channel.on("message", echo.on_pong)
            pc.on("track", echo.on_track)
            await pc.setLocalDescription(await pc.createOffer())
            url = f"{server}/api/readiness/{start['check_id']}/offer"
            async with http.post(url, json={"sdp": pc.localDescription.sdp}) as resp:
                answer = await resp.json()
                if resp.status != 200:
                    raise RuntimeError(answer.get("detail", "the echo peer refused"))
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
            began = time.monotonic()
            while time.monotonic() - began < seconds:
                if channel.readyState == "open":
                    channel.send(json.dumps({"t": time.monotonic()}))
                await asyncio.sleep(0.25)
            bitrate, loss = await _stats(pc, seconds)
            measured = {
                "rtt_ms": round(statistics.median(echo.rtts), 1) if echo.rtts else None,
                "loss_pct": None if loss is None else round(loss, 2),
                "bitrate_kbps": None if bitrate is None else round(bitrate, 1),
                "fps": None if echo.fps() is None else round(echo.fps() or 0, 1),
            }
            url = f"{server}/api/readiness/{start['check_id']}/result"
            async with http.post(url, json=measured) as resp:
                return dict(await resp.json())
        finally:
            for task in echo.tasks:
                task.cancel()
            await pc.close()
