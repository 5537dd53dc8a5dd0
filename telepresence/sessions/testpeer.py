"""An aiortc pupil: joins a lesson like the tablet page does, and counts what arrives.

Used by the end-to-end tests and ``bench/join_latency.py``; it is also a
small reference client for people writing their own pupil software.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from telepresence.agent.lesson import ice_configuration, parse_candidate
from telepresence.agent.media import ToneTrack

__all__ = ["PupilPeer"]


class PupilPeer:
    """Join a booking's session as the pupil; ``close()`` is safe to call twice."""

    def __init__(self, server: str, bearer: str) -> None:
        self.server = server.rstrip("/")
        self.bearer = bearer
        self.video_frames = 0
        self.audio_frames = 0
        self.first_frame_at: float | None = None
        self.joined_at: float | None = None
        self.acks: dict[str, dict[str, Any]] = {}
        self.session_id = ""
        self.ended = asyncio.Event()
        self.pc: RTCPeerConnection | None = None
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ids = itertools.count(1)
        self._channel: Any = None
        self._ice: list[dict[str, Any]] = []
        self._token = ""
        self._closing = False
        self.reconnects = 0
        self.watchers: list[str] = []
        self.offer_id: str | None = None  # this end's offer in flight, if any
        self._negotiating = asyncio.Lock()  # one offer or answer at a time
        self.refusals: list[dict[str, Any]] = []

    async def join(self, booking_id: str) -> None:
        """Tap "Join": ask the API for a ticket, join the socket, make an offer."""
        self.joined_at = time.perf_counter()
        self._http = aiohttp.ClientSession()
        # The socket is opened while the join request is answered (it has 10 s to say
        # join): one round trip less before the offer.
        opening = asyncio.ensure_future(self._http.ws_connect(self._socket_url))
        try:
            async with self._http.post(
                f"{self.server}/api/bookings/{booking_id}/join",
                headers={"Authorization": f"Bearer {self.bearer}"},
            ) as resp:
                ticket = await resp.json()
                if resp.status != 200:
                    raise RuntimeError(ticket.get("detail"))
        except BaseException:
            opening.cancel()
            with contextlib.suppress(BaseException):
                await (await opening).close()
            raise
        self._token, self.session_id = ticket["token"], ticket["session_id"]
        self._ice = ticket["ice_servers"]
        await self.connect_socket(await opening)

    @property
    def _socket_url(self) -> str:
        return self.server.replace("http", "ws", 1) + "/ws/session"

    async def connect_socket(self, opened: aiohttp.ClientWebSocketResponse | None = None) -> None:
        """(Re)join the session socket with the same token and offer afresh."""
        assert self._http is not None
        self._closing = False
        self._ws = opened or await self._http.ws_connect(self._socket_url)
        await self._ws.send_json({"type": "join", "token": self._token})
        self._spawn(self._read(self._ws))
        await self.offer()

    async def _new_pc(self) -> RTCPeerConnection:
        if self.pc is not None:
            await self.pc.close()
        pc = RTCPeerConnection(ice_configuration(self._ice))
        self.pc = pc
        pc.on("track", lambda track: self._spawn(self._consume(track)))
        pc.on("datachannel", self._use_channel)
        return pc

    def _use_channel(self, channel: Any) -> None:
        self._channel = channel
        channel.on("message", self._on_channel_message)

    async def offer(self) -> None:
        """A fresh peer connection and offer (what a rejoin does)."""
        offer_id = f"p{next(self._ids)}"
        self.offer_id = offer_id
        async with self._negotiating:
            if self.offer_id != offer_id:
                return  # a newer offer of ours supersedes this one
            pc = await self._new_pc()
            pc.addTransceiver("video", direction="recvonly")
            pc.addTrack(ToneTrack())
            self._use_channel(pc.createDataChannel("controls"))
            await pc.setLocalDescription(await pc.createOffer())
            assert self._ws is not None
            sdp = pc.localDescription.sdp
            await self._ws.send_json({"type": "offer", "sdp": sdp, "offer_id": offer_id})

    async def _answer(self, message: dict[str, Any]) -> None:
        """Answer the robot's offer, unless one of ours is in flight (the pupil's offer wins)."""
        async with self._negotiating:
            if self.offer_id is None:
                await self._answer_now(message)

    async def _answer_now(self, message: dict[str, Any]) -> None:
        pc = await self._new_pc()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="offer"))
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "audio":
                transceiver.sender.replaceTrack(ToneTrack())
                transceiver.direction = "sendrecv"
            else:
                transceiver.direction = "recvonly"
        await pc.setLocalDescription(await pc.createAnswer())
        assert self._ws is not None
        if pc is self.pc:
            answer = {"type": "answer", "sdp": pc.localDescription.sdp}
            await self._ws.send_json(answer | {"offer_id": message.get("offer_id")})

    async def _apply_answer(self, message: dict[str, Any]) -> None:
        async with self._negotiating:
            pc = self.pc
            if pc is None or self.offer_id is None or message.get("offer_id") != self.offer_id:
                return  # an answer to an offer this end has replaced
            self.offer_id = None
            await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="answer"))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        await self._handle(ws)
        if not self._closing and not self.ended.is_set() and ws is self._ws:
            self._spawn(self._rejoin())

    async def _rejoin(self) -> None:
        """Like the tablet page: back into the same session, calmly, with backoff."""
        for attempt in range(40):
            await asyncio.sleep(min(1.0, 0.1 * 2**attempt))
            try:
                await self.connect_socket()
            except (aiohttp.ClientError, OSError):
                continue
            self.reconnects += 1
            return

    async def _handle(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            message = json.loads(msg.data)
            kind = message.get("type")
            if kind == "answer":
                await self._apply_answer(message)
            elif kind == "offer":
                await self._answer(message)
            elif kind == "error":
                self.refusals.append(message)
                if message.get("offer_id") is not None and message["offer_id"] == self.offer_id:
                    self.offer_id = None  # peer_absent: offer again on peer_joined
            elif kind == "candidate" and self.pc is not None:
                candidate = parse_candidate(message)
                if candidate is not None:
                    await self.pc.addIceCandidate(candidate)
            elif kind == "peer_joined":
                await self.offer()
            elif kind == "ended":
                self.ended.set()
            elif kind in {"joined", "watching"}:
                self.watchers = list(message.get("watchers") or [])

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                if track.kind == "video":
                    self.video_frames += 1
                    if self.first_frame_at is None:
                        self.first_frame_at = time.perf_counter()
                else:
                    self.audio_frames += 1

    def _on_channel_message(self, raw: str) -> None:
        message = json.loads(raw)
        self.acks[str(message.get("ack"))] = message

    async def control(self, control: str, wait_s: float = 5, **detail: Any) -> dict[str, Any]:
        """Send a control over the data channel and wait for the robot's ack."""
        ident = str(next(self._ids))
        for _ in range(int(wait_s / 0.02)):
            if self._channel is not None and self._channel.readyState == "open":
                break
            await asyncio.sleep(0.02)
        self._channel.send(json.dumps({"id": ident, "control": control, "detail": detail}))
        for _ in range(int(wait_s / 0.02)):
            if ident in self.acks:
                return self.acks[ident]
            await asyncio.sleep(0.02)
        raise TimeoutError(f"no ack for {control}")

    async def wait_frames(self, count: int, wait_s: float = 10) -> None:
        """Wait until ``count`` video frames have been decoded."""
        start = self.video_frames
        for _ in range(int(wait_s / 0.02)):
            if self.video_frames - start >= count:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{self.video_frames - start} of {count} frames in {wait_s}s")

    async def send(self, message: dict[str, Any]) -> None:
        """Send a raw message on the session socket."""
        assert self._ws is not None
        await self._ws.send_json(message)

    async def drop_socket(self) -> None:
        """Simulate a network drop: the socket and the peer connection go away."""
        self._closing = True  # the test rejoins by hand
        if self._ws is not None:
            await self._ws.close()
        if self.pc is not None:
            await self.pc.close()
            self.pc = None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Leave and release everything."""
        self._closing = True
        if self._ws is not None and not self._ws.closed:
            with contextlib.suppress(ConnectionError):
                await self._ws.send_json({"type": "leave"})
            await self._ws.close()
        if self.pc is not None:
            await self.pc.close()
            self.pc = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None
