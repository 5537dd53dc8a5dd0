"""The robot's end of a live lesson: answer the pupil's offers, obey the controls.

Every offer gets a fresh peer connection (aiortc has no ICE restart, so a
dropped pupil comes back with a new offer). The session socket is rejoined
with the same token after a network blip or a server restart; the lesson
ends when the server says so or the token stops working.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import structlog
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceCandidate,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidAccessError, InvalidStateError
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from telepresence.agent.backoff import full_jitter
from telepresence.agent.hardware import Hardware
from telepresence.agent.media import Media, PupilCameraView

__all__ = ["CONTROLS", "RobotLesson", "ice_configuration", "parse_candidate"]

log = structlog.get_logger("classbridge.lesson")
CONTROLS = {"raise_hand", "lower_hand", "listening_mode", "head", "volume"}
FINAL_CLOSE_CODES = {4401, 4403, 4410, 4426}
CLOSE_TOKEN_REFUSED = 4401
# Rejoining a live lesson's socket: a random delay in [0, min(cap, base * 2**attempt)].
REJOIN_BASE_S, REJOIN_CAP_S = 0.1, 2.0
# A failed call is normally re-offered by the pupil; the robot offers itself if none came.
REOFFER_AFTER_S = 2.0


def ice_configuration(servers: list[dict[str, Any]]) -> RTCConfiguration:
    """The issued ICE servers only (an empty list is kept empty: no default public STUN)."""
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in servers
        ]
    )


def parse_candidate(message: dict[str, Any]) -> RTCIceCandidate | None:
    """A trickled candidate as aiortc wants it (None for end-of-candidates)."""
    text = message.get("candidate") or ""
    if not text:
        return None
    candidate = candidate_from_sdp(text.split(":", 1)[1])
    candidate.sdpMid = message.get("sdpMid")
    candidate.sdpMLineIndex = message.get("sdpMLineIndex")
    return candidate


class RobotLesson:
    """One session from the robot's side; ``stop()`` is safe to call twice."""

    def __init__(
        self,
        server: str,
        session_id: str,
        token: str,
        hardware: Hardware,
        media: Media,
        *,
        on_token_refused: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.on_token_refused = on_token_refused
        self.session_id = session_id
        self.token = token
        self.hardware = hardware
        self.media = media
        self.ended = asyncio.Event()
        self.finished = asyncio.Event()
        self.pc: RTCPeerConnection | None = None
        self.ice: list[dict[str, Any]] = []
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sinks: list[Any] = []
        self._offer_ids = itertools.count(1)
        self.offer_id: str | None = None  # this end's offer in flight, if any
        # Offers and answers are made one at a time: a new offer never races another
        # on the same peer connection.
        self._negotiating = asyncio.Lock()
        self.answered: list[str] = []  # offer ids answered (newest last), for tests

    async def run(self) -> None:
        """Stay in the session until it ends; rejoin after drops with backoff."""
        attempt = 0
        while not self.ended.is_set():
            try:
                code = await self._connect_once()
                attempt = 0
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.info("lesson_socket_failed", error=str(exc) or type(exc).__name__)
                code = None
            if code in FINAL_CLOSE_CODES:
                if code == CLOSE_TOKEN_REFUSED and self.on_token_refused is not None:
                    # The session may go on with a fresh token, asked for on the device socket.
                    await self.on_token_refused(self.session_id)
                break
            attempt += 1
            delay = full_jitter(attempt, base=REJOIN_BASE_S, cap=REJOIN_CAP_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ended.wait(), delay)
        await self._close_pc()
        self.hardware.session_live(False)
        self.ended.set()
        self.finished.set()

    async def _connect_once(self) -> int | None:
        url = self.server.replace("http", "ws", 1) + "/ws/session"
        async with aiohttp.ClientSession() as http, http.ws_connect(url, heartbeat=10) as ws:
            self._ws = ws
            await ws.send_json({"type": "join", "token": self.token})
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                await self._on_message(json.loads(msg.data))
            self._ws = None
            return ws.close_code

    async def _on_message(self, message: dict[str, Any]) -> None:
        try:
            await self._dispatch(message)
        except (ValueError, KeyError, InvalidStateError, InvalidAccessError) as exc:
            # An offer, answer or candidate aiortc could not use: the call stays as it was
            # and the lesson goes on (the pupil offers again when its call fails).
            log.warning("lesson_message_unusable", kind=message.get("type"), error=str(exc))

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "joined":
            self.ice = message.get("ice_servers", [])
        elif kind == "offer":
            # The polite end: the pupil's offer wins over one of ours in flight.
            self.offer_id = None
            await self._answer(message["sdp"], message.get("offer_id"))
        elif kind == "answer":
            await self._apply_answer(message)
        elif kind == "candidate" and self.pc is not None:
            candidate = parse_candidate(message)
            if candidate is not None:
                await self.pc.addIceCandidate(candidate)
        elif kind == "ended":
            self.ended.set()
        elif kind == "watching":
            names = message.get("watchers") or []
            self.hardware.watchers([str(n)[:40] for n in names if isinstance(n, str)][:8])
        elif kind == "error":
            if message.get("offer_id") is not None and message.get("offer_id") == self.offer_id:
                self.offer_id = None  # glare or peer_absent: the pupil will offer
            log.info("lesson_message_refused", code=message.get("code"))

    async def _send(self, message: dict[str, Any]) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.send_json(message)

    async def _new_pc(self) -> RTCPeerConnection:
        await self._close_pc()
        pc = RTCPeerConnection(ice_configuration(self.ice))
        self.pc = pc
        for track in self.media.tracks():
            pc.addTrack(track)
        pc.on("track", self._on_track)
        pc.on("datachannel", self._on_channel)
        pc.on("connectionstatechange", lambda: self._on_state(pc))
        return pc

    async def _answer(self, sdp: str, offer_id: str | None) -> None:
        async with self._negotiating:
            pc = await self._new_pc()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            self.answered.append(str(offer_id))
            answer = {"type": "answer", "sdp": pc.localDescription.sdp, "offer_id": offer_id}
            await self._send(answer)

    async def offer(self) -> None:
        """Offer a fresh peer connection (the robot's ``controls`` channel goes with it)."""
        offer_id = f"r{next(self._offer_ids)}"
        self.offer_id = offer_id
        async with self._negotiating:
            if self.offer_id != offer_id:
                return  # the pupil's offer came first: it was answered instead
            pc = await self._new_pc()
            self._on_channel(pc.createDataChannel("controls"))
            await pc.setLocalDescription(await pc.createOffer())
            if self.offer_id == offer_id:
                sdp = pc.localDescription.sdp
                await self._send({"type": "offer", "sdp": sdp, "offer_id": offer_id})

    async def _apply_answer(self, message: dict[str, Any]) -> None:
        async with self._negotiating:
            pc = self.pc
            if pc is None or self.offer_id is None or message.get("offer_id") != self.offer_id:
                return  # an answer to an offer this end has given up
            self.offer_id = None
            if pc.signalingState == "have-local-offer":
                answer = RTCSessionDescription(sdp=message["sdp"], type="answer")
                await pc.setRemoteDescription(answer)

    def _on_state(self, pc: RTCPeerConnection) -> None:
        if pc is not self.pc:
            return
        live = pc.connectionState == "connected"
        self.hardware.session_live(live)
        if live:
            self._spawn(self._send({"type": "event", "kind": "media_started"}))
        elif pc.connectionState == "failed":
            self._spawn(self._reoffer_unless_offered(pc))

    async def _reoffer_unless_offered(self, failed: RTCPeerConnection) -> None:
        await asyncio.sleep(REOFFER_AFTER_S)
        if self.pc is failed and not self.ended.is_set():
            await self.offer()

    def _on_track(self, track: MediaStreamTrack) -> None:
        # The pupil's camera (only when the server granted it at the pupil's join): read as
        # it arrives, never queued or kept; the robot shows the class while it is live.
        sink = (
            self.media.speaker()
            if track.kind == "audio"
            else PupilCameraView(self.hardware.pupil_camera)
        )
        sink.addTrack(track)
        self._sinks.append(sink)
        self._spawn(sink.start())

    def _on_channel(self, channel: RTCDataChannel) -> None:
        @channel.on("message")
        def on_message(raw: object) -> None:
            self._spawn(self._control(channel, raw))

    async def _control(self, channel: RTCDataChannel, raw: object) -> None:
        try:
            message = json.loads(raw) if isinstance(raw, str) else {}
            control = message.get("control")
            detail = message.get("detail") or {}
            if control not in CONTROLS or not isinstance(detail, dict) or len(raw) > 1000:  # type: ignore[arg-type]
                raise ValueError("unknown control")
            result = await self.hardware.apply_control(control, detail)
        except (ValueError, TypeError) as exc:
            channel.send(
                json.dumps(
                    {
                        "ack": message.get("id") if isinstance(message, dict) else None,
                        "ok": False,
                        "detail": str(exc),
                    }
                )
            )
            return
        channel.send(json.dumps({"ack": message.get("id"), "ok": True, "detail": result}))
        safe = {k: v for k, v in detail.items() if isinstance(v, (str, int, float, bool))}
        await self._send(
            {
                "type": "event",
                "kind": "control",
                "control": control,
                "detail": dict(list(safe.items())[:8]),
            }
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close_pc(self) -> None:
        for sink in self._sinks:
            await sink.stop()
        self._sinks.clear()
        if self.pc is not None:
            pc, self.pc = self.pc, None
            await pc.close()

    async def stop(self) -> None:
        """Leave the session and release everything."""
        self.ended.set()
        self.hardware.watchers([])
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        for task in list(self._tasks):
            task.cancel()
        await self._close_pc()
