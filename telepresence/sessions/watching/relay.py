"""The server's media relay for one lesson: the robot's picture and sound to several viewers.

Direct sessions (robot ↔ tablet, through TURN where the network needs it) are
the default. The relay is for what TURN cannot do: a second viewer of the
robot (the hospital teacher sitting with the pupil), server-side quality
measurement, an operator without a TURN server. The robot sends once to the
server; the server forwards the *encoded* frames to each viewer without
decoding or re-encoding them (:mod:`telepresence.sessions.watching.forwarding`).

Nothing passes through to disk: frames live in bounded per-viewer queues
only, and are gone once sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from telepresence.sessions.watching.forwarding import (
    ForwardedSource,
    ForwardedTrack,
    forward_keyframe_requests,
    pin_codecs,
)

__all__ = ["LessonRelay", "RelayFull"]


class RelayFull(Exception):
    """The relay already serves as many viewers as it may."""


class LessonRelay:
    """Receives one upstream peer (the robot) and forwards its media to viewers."""

    def __init__(
        self,
        configuration: RTCConfiguration | None = None,
        max_viewers: int = 4,
        on_viewer_gone: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._configuration = configuration or RTCConfiguration(iceServers=[])
        self.max_viewers = max_viewers
        self._on_viewer_gone = on_viewer_gone
        self.video = ForwardedSource("video")
        self.audio = ForwardedSource("audio")
        self._upstream: RTCPeerConnection | None = None
        self._viewers: dict[str, tuple[RTCPeerConnection, list[ForwardedTrack]]] = {}
        self._lock = asyncio.Lock()

    @property
    def viewers(self) -> list[str]:
        return list(self._viewers)

    @property
    def has_upstream(self) -> bool:
        """Whether the robot's connection is there and not failed or closed."""
        return self._upstream is not None and self._upstream.connectionState not in (
            "failed",
            "closed",
        )

    async def accept_upstream(self, offer_sdp: str) -> str:
        """Answer the robot's offer (it sends video and audio); returns the answer SDP.

        A new offer replaces the previous upstream connection (the robot
        reconnected); viewers stay and get a keyframe from the new one.
        """
        async with self._lock:
            await self._close_upstream()
            pc = RTCPeerConnection(self._configuration)
            for source in (self.video, self.audio):
                transceiver = pc.addTransceiver(source.kind, direction="recvonly")
                pin_codecs(transceiver)
                source.attach(transceiver.receiver)
            self._upstream = pc
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            self.video.request_keyframe()
            return str(pc.localDescription.sdp)

    async def add_viewer(self, viewer_id: str, offer_sdp: str) -> str:
        """Answer a viewer's offer (it receives video and audio); returns the answer SDP."""
        async with self._lock:
            old = self._viewers.pop(viewer_id, None)
            if old is not None:
                await self._close_viewer(*old)
            if len(self._viewers) >= self.max_viewers:
                raise RelayFull(f"this lesson already has {self.max_viewers} relayed viewers")
            pc = RTCPeerConnection(self._configuration)
            tracks = []
            for source in (self.video, self.audio):
                track = source.subscribe()
                transceiver = pc.addTransceiver(track, direction="sendonly")
                pin_codecs(transceiver)
                forward_keyframe_requests(transceiver.sender, source)
                tracks.append(track)
            self._viewers[viewer_id] = (pc, tracks)

            @pc.on("connectionstatechange")
            async def _gone() -> None:
                if pc.connectionState in ("failed", "closed"):
                    removed = await self.remove_viewer(viewer_id, only=pc)
                    if removed and self._on_viewer_gone is not None:
                        await self._on_viewer_gone(viewer_id)

            try:
                await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
            except Exception:
                self._viewers.pop(viewer_id, None)
                await self._close_viewer(pc, tracks)
                raise
            return str(pc.localDescription.sdp)

    async def remove_viewer(self, viewer_id: str, only: RTCPeerConnection | None = None) -> bool:
        """Stop serving a viewer; False if it was not (or no longer) served."""
        entry = self._viewers.get(viewer_id)
        if entry is None or (only is not None and entry[0] is not only):
            return False
        del self._viewers[viewer_id]
        await self._close_viewer(*entry)
        return True

    async def stats(self) -> dict[str, Any]:
        """What the relay sees: frames in, keyframe requests, per viewer frames sent and skipped."""
        return {
            "video_frames": self.video.frames,
            "audio_packets": self.audio.frames,
            "keyframe_requests": self.video.keyframe_requests,
            "viewers": {
                vid: {
                    "sent": tracks[0].sent,
                    "skipped": tracks[0].skipped,
                    "queue_delay_ms": round(tracks[0].delay_ms, 2),
                    "max_queue_delay_ms": round(tracks[0].max_delay_ms, 2),
                }
                for vid, (_pc, tracks) in self._viewers.items()
            },
        }

    async def close(self) -> None:
        async with self._lock:
            for pc, tracks in list(self._viewers.values()):
                await self._close_viewer(pc, tracks)
            self._viewers.clear()
            await self._close_upstream()

    @staticmethod
    async def _close_viewer(pc: RTCPeerConnection, tracks: list[ForwardedTrack]) -> None:
        for track in tracks:
            track.stop()
        with contextlib.suppress(Exception):
            await pc.close()

    async def _close_upstream(self) -> None:
        if self._upstream is not None:
            pc, self._upstream = self._upstream, None
            with contextlib.suppress(Exception):
                await pc.close()
