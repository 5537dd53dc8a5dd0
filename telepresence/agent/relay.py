"""The robot's upload to the server's relay, while hospital staff watch a lesson.

The lesson itself stays a direct call with the pupil's tablet; this is a
second, send-only peer connection to the server carrying the same camera and
microphone. It lasts until the server says ``relay_stop``, the session ends,
or the connection fails; a failed one is offered again with backoff while the
server still wants it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
import structlog
from aiortc import RTCPeerConnection, RTCSessionDescription

from telepresence.agent.backoff import full_jitter
from telepresence.agent.lesson import ice_configuration
from telepresence.agent.media import Media

__all__ = ["RelayUpload"]

log = structlog.get_logger("classbridge.agent.relay")


class RelayUpload:
    """Sends this robot's media to the relay of one session until stopped."""

    def __init__(self, server: str, credential: str, invite: dict[str, Any], media: Media) -> None:
        self.session_id = str(invite["session_id"])
        self._url = server.rstrip("/") + str(invite["offer_path"])
        self._headers = {"Authorization": f"Bearer {credential}"}
        self._ice = list(invite.get("ice_servers") or [])
        self._media = media
        self._stop = asyncio.Event()
        self.connections = 0

    async def run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                kept = await self._upload_once()
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                log.warning("relay_upload_failed", session=self.session_id, error=str(exc))
                kept = None
            if kept is False:  # the server no longer wants it
                return
            attempt = 0 if kept else attempt + 1
            delay = full_jitter(attempt, base=0.5, cap=10.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=delay)

    async def _upload_once(self) -> bool:
        """One connection: True when it ran and failed later, False when refused."""
        pc = RTCPeerConnection(ice_configuration(self._ice))
        ended = asyncio.Event()

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                ended.set()

        try:
            for track in self._media.tracks():
                pc.addTransceiver(track, direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            async with (
                aiohttp.ClientSession(headers=self._headers) as http,
                http.post(self._url, json={"sdp": pc.localDescription.sdp}) as resp,
            ):
                body = await resp.json(content_type=None)
                if resp.status in (404, 409):
                    log.info("relay_not_wanted", session=self.session_id, detail=body.get("detail"))
                    return False
                resp.raise_for_status()
            await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "answer"))
            self.connections += 1
            log.info("relay_upload_started", session=self.session_id)
            stop = asyncio.ensure_future(self._stop.wait())
            gone = asyncio.ensure_future(ended.wait())
            await asyncio.wait({stop, gone}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            gone.cancel()
            return True
        finally:
            await pc.close()

    def stop(self) -> None:
        self._stop.set()
