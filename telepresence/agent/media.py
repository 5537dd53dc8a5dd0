"""Media for the robot's end: a synthetic camera and microphone, or the real ones.

Synthetic media is for tests and demos: a moving test pattern with the time
on it and a 440 Hz tone. Real media comes through aiortc's ``MediaPlayer``
(v4l2 camera and ALSA microphone on Linux). The pupil's audio goes to the
speaker, or in synthetic mode is read and dropped at once so that it never
queues up. Nothing is ever written to disk.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fractions
import functools
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from aiortc import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from aiortc.contrib.media import MediaBlackhole, MediaPlayer, MediaRelay
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

__all__ = [
    "DeviceMedia",
    "Media",
    "PupilCameraView",
    "SyntheticMedia",
    "TestPatternTrack",
    "ToneTrack",
]

WIDTH, HEIGHT = 640, 480
FONT = {  # 3x5 digits, one row per string, for the clock on the test pattern
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
    ":": ("000", "010", "000", "010", "000"),
}
SCALE = 8


class Media(Protocol):
    """Tracks for one peer connection, and where the pupil's audio goes."""

    def tracks(self) -> list[MediaStreamTrack]:
        """Fresh outgoing tracks (video, audio) for a new peer connection."""
        ...

    def speaker(self) -> Any:
        """A sink for the pupil's audio track (``addTrack``, ``start``, ``stop``)."""
        ...

    async def close(self) -> None:
        """Release the devices."""
        ...


class TestPatternTrack(VideoStreamTrack):
    """640x480 at 30 fps: a bar sweeping across and the wall-clock time (UTC)."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0
        self._chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)

    def _clock_rows(self, text: str) -> dict[int, bytes]:
        rows: dict[int, bytes] = {}
        for line in range(5 * SCALE):
            row = bytearray(b"\x20" * WIDTH)
            for index, char in enumerate(text):
                bits = FONT[char][line // SCALE]
                for col, bit in enumerate(bits):
                    if bit == "1":
                        x = 24 + index * 4 * SCALE + col * SCALE
                        row[x : x + SCALE] = b"\xeb" * SCALE
            rows[24 + line] = bytes(row)
        return rows

    def _luma(self) -> bytes:
        bar = (self.frames * 8) % WIDTH
        row = bytearray(b"\x50" * WIDTH)
        row[bar : bar + 48] = b"\xd0" * len(row[bar : bar + 48])
        plain = bytes(row)
        clock = self._clock_rows(datetime.now(UTC).strftime("%H:%M:%S"))
        return b"".join(clock.get(y, plain) for y in range(HEIGHT))

    async def recv(self) -> VideoFrame:
        """The next frame, paced at 30 fps."""
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.planes[0].update(self._luma())
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts, frame.time_base = pts, time_base
        self.frames += 1
        return frame


@functools.cache
def _tone_second(rate: int) -> bytes:
    """One second of the 440 Hz tone as 16-bit PCM, computed once per process.

    Computing it took ~20 ms of the event loop for every new peer connection, on
    the robot between the pupil's offer and its answer (docs/performance.md).
    """
    second = array.array(
        "h", (int(3000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(rate))
    )
    return second.tobytes()


class ToneTrack(AudioStreamTrack):
    """A quiet 440 Hz tone, 48 kHz mono, in 20 ms frames."""

    kind = "audio"
    RATE = 48_000
    SAMPLES = 960

    def __init__(self) -> None:
        super().__init__()
        self._pcm = _tone_second(self.RATE)
        self._sent = 0

    async def recv(self) -> AudioFrame:
        """The next 20 ms of tone, paced in real time."""
        if self.readyState != "live":
            from aiortc.mediastreams import MediaStreamError

            raise MediaStreamError
        if self._sent:
            wait = self._start + self._sent / self.RATE - time.time()
            await asyncio.sleep(wait)
        else:
            self._start = time.time()
        offset = (self._sent % self.RATE) * 2
        chunk = (self._pcm + self._pcm)[offset : offset + self.SAMPLES * 2]
        frame = AudioFrame(format="s16", layout="mono", samples=self.SAMPLES)
        frame.planes[0].update(chunk)
        frame.pts, frame.sample_rate = self._sent, self.RATE
        frame.time_base = fractions.Fraction(1, self.RATE)
        self._sent += self.SAMPLES
        return frame


class PupilCameraView:
    """Reads the pupil's video as it arrives and says when it is live; keeps no frame.

    Every frame is read at once and dropped (a robot with a screen draws it
    here), so nothing queues up however long the lesson. ``on_live(live,
    frames)`` is called at the first frame and again once no frame has come for
    ``idle_s`` seconds (the pupil turned the camera off), and on ``stop()``.
    The same ``addTrack``/``start``/``stop`` shape as aiortc's media sinks;
    ``stop()`` is safe to call twice.
    """

    def __init__(self, on_live: Callable[[bool, int], None], idle_s: float = 1.0) -> None:
        self.on_live = on_live
        self.idle_s = idle_s
        self.frames = 0
        self.live = False
        self._track: MediaStreamTrack | None = None
        self._task: asyncio.Task[None] | None = None

    def addTrack(self, track: MediaStreamTrack) -> None:  # noqa: N802 (aiortc's sink API)
        """The pupil's video track (one per peer connection)."""
        self._track = track

    async def start(self) -> None:
        """Start reading."""
        if self._track is not None and self._task is None:
            self._task = asyncio.create_task(self._read(self._track))

    def _set(self, live: bool) -> None:
        if live != self.live:
            self.live = live
            self.on_live(live, self.frames)

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                await asyncio.wait_for(track.recv(), self.idle_s)
            except TimeoutError:
                self._set(False)
                continue
            except MediaStreamError:
                break
            self.frames += 1
            self._set(True)
        self._set(False)

    async def stop(self) -> None:
        """Stop reading; the indicator goes off."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set(False)


class SyntheticMedia:
    """Test pattern and tone out; the pupil's audio is consumed and dropped."""

    def tracks(self) -> list[MediaStreamTrack]:
        """A new test pattern and tone for each peer connection."""
        return [TestPatternTrack(), ToneTrack()]

    def speaker(self) -> MediaBlackhole:
        """Reads every frame and keeps none (no queue grows, nothing is stored)."""
        return MediaBlackhole()

    async def close(self) -> None:
        """Nothing to release."""


class DeviceMedia:
    """A real camera and microphone (v4l2/ALSA); the pupil's audio to the speaker."""

    def __init__(self, camera: str = "/dev/video0", microphone: str = "default") -> None:
        self._camera = MediaPlayer(
            camera, format="v4l2", options={"video_size": f"{WIDTH}x{HEIGHT}", "framerate": "30"}
        )
        self._microphone = MediaPlayer(microphone, format="alsa")
        self._relay = MediaRelay()

    def tracks(self) -> list[MediaStreamTrack]:
        """One subscription per peer connection; a slow one drops frames, never queues."""
        out = []
        if self._camera.video is not None:
            out.append(self._relay.subscribe(self._camera.video, buffered=False))
        if self._microphone.audio is not None:
            out.append(self._relay.subscribe(self._microphone.audio, buffered=False))
        return out

    def speaker(self) -> Any:
        """ALSA playback of the pupil's voice (played live; nothing is written to a file)."""
        from aiortc.contrib.media import MediaRecorder

        return MediaRecorder("default", format="alsa")

    async def close(self) -> None:
        """Stop the capture devices."""
        for player in (self._camera, self._microphone):
            for track in (player.audio, player.video):
                if track is not None:
                    track.stop()
