"""The media relay end to end: a robot (aiortc, encoding its test pattern) → relay → viewers.

This guards the aiortc internals the relay depends on
(:mod:`telepresence.sessions.watching.forwarding`): if a new aiortc changes them, these
fail. Everything runs over 127.0.0.1 in this process; viewers *decode* what
they receive, so a frame that arrives corrupted fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import loopback
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import VideoFrame

from telepresence.agent import media
from telepresence.sessions.watching.relay import LessonRelay, RelayFull

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("aioice.ice.get_host_addresses", loopback.loopback_only)


class Robot:
    """An aiortc peer that encodes and sends a test pattern and a tone; counts keyframe requests."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.video = media.TestPatternTrack()
        self.keyframe_requests = 0
        video = self.pc.addTransceiver(self.video, direction="sendonly")
        self.pc.addTransceiver(media.ToneTrack(), direction="sendonly")
        original = video.sender._send_keyframe

        def counted() -> None:
            self.keyframe_requests += 1
            original()

        video.sender._send_keyframe = counted  # type: ignore[method-assign]

    async def connect(self, relay: LessonRelay) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await relay.accept_upstream(self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))


class Viewer:
    """An aiortc peer that receives and decodes video and audio from the relay."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        self.frames: list[Any] = []
        self.audio = 0
        self.first_frame = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    self.frames.append((frame.width, frame.height))
                    self.first_frame.set()
                else:
                    self.audio += 1

    async def connect(self, relay: LessonRelay, viewer_id: str) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await relay.add_viewer(viewer_id, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        return answer

    async def wait_frames(self, count: int, timeout: float = 10) -> None:
        async def enough() -> None:
            while len(self.frames) < count:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(enough(), timeout)

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()


@pytest.fixture
async def relay() -> AsyncIterator[LessonRelay]:
    relay = LessonRelay(max_viewers=2)
    yield relay
    await relay.close()


@pytest.fixture
async def robot(relay: LessonRelay) -> AsyncIterator[Robot]:
    robot = Robot()
    await robot.connect(relay)
    yield robot
    await robot.pc.close()


async def test_two_viewers_decode_the_robots_picture_and_sound(
    relay: LessonRelay, robot: Robot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aiortc")
    first, second = Viewer(), Viewer()
    try:
        answer = await first.connect(relay, "pupil")
        # One codec on both legs: nothing is transcoded.
        video_section = answer.split("m=video", 1)[1].split("m=audio", 1)[0]
        assert "VP8/90000" in video_section
        assert "H264" not in video_section
        await first.wait_frames(30)
        requests_before = robot.keyframe_requests
        await asyncio.sleep(0.6)  # past the keyframe request interval
        await second.connect(relay, "teacher")
        await second.wait_frames(30)
        # The second viewer joined mid-stream: it was only shown a picture
        # because its keyframe request reached the robot's encoder.
        assert robot.keyframe_requests > requests_before
        assert set(first.frames) == {(640, 480)}
        assert set(second.frames) == {(640, 480)}
        assert first.audio > 20
        assert second.audio > 0
        # The relay never decoded: its receivers' decoders were never fed.
        stats = await relay.stats()
        assert stats["video_frames"] >= 60
        assert stats["viewers"]["pupil"]["sent"] >= 30
        # Every frame a viewer got decoded cleanly (a corrupted one logs a warning).
        assert [r.getMessage() for r in caplog.records if "decode" in r.getMessage()] == []
    finally:
        await first.close()
        await second.close()


async def test_a_viewers_picture_loss_request_reaches_the_robot(
    relay: LessonRelay, robot: Robot
) -> None:
    viewer = Viewer()
    try:
        await viewer.connect(relay, "pupil")
        await viewer.wait_frames(10)
        await asyncio.sleep(0.6)
        before = robot.keyframe_requests
        video = next(t for t in viewer.pc.getTransceivers() if t.kind == "video")
        ssrc = video.receiver.getSynchronizationSources()[0].source
        await video.receiver._send_rtcp_pli(ssrc)
        for _ in range(100):
            if robot.keyframe_requests > before:
                break
            await asyncio.sleep(0.02)
        assert robot.keyframe_requests == before + 1
        # Rate-limited: a burst of requests is one keyframe upstream.
        for _ in range(5):
            await video.receiver._send_rtcp_pli(ssrc)
        await asyncio.sleep(0.3)
        assert robot.keyframe_requests == before + 1
        frames = len(viewer.frames)
        await viewer.wait_frames(frames + 10)
    finally:
        await viewer.close()


async def test_the_robot_reconnecting_keeps_viewers_watching(
    relay: LessonRelay, robot: Robot
) -> None:
    viewer = Viewer()
    try:
        await viewer.connect(relay, "pupil")
        await viewer.wait_frames(10)
        await robot.pc.close()
        again = Robot()
        try:
            await again.connect(relay)
            frames = len(viewer.frames)
            await viewer.wait_frames(frames + 20)
        finally:
            await again.pc.close()
    finally:
        await viewer.close()


async def test_no_more_viewers_than_allowed(relay: LessonRelay, robot: Robot) -> None:
    viewers = [Viewer() for _ in range(3)]
    try:
        await viewers[0].connect(relay, "a")
        await viewers[1].connect(relay, "b")
        with pytest.raises(RelayFull):
            await viewers[2].connect(relay, "c")
        assert sorted(relay.viewers) == ["a", "b"]
        await relay.remove_viewer("a")
        await viewers[2].connect(relay, "c")
        await viewers[2].wait_frames(5)
    finally:
        for viewer in viewers:
            await viewer.close()
