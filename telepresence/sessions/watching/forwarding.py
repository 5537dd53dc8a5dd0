"""Forward encoded media through a server peer without decoding or re-encoding it.

aiortc's ``MediaRelay`` decodes every frame the robot sends and encodes it
again for each viewer: about a fifth of a core per session, about six
sessions per process before the frame rate falls and queues grow. This module
forwards the encoded frames instead (VP8 video, Opus audio), which costs a
few per cent of a core per session (figures in ``docs/performance.md``,
``bench/relay.py``).

How, in four pieces:

- **Receive.** The receiver of the upstream peer connection (the robot's)
  normally assembles RTP packets into frames in a jitter buffer and hands
  them to a decoder thread. :class:`FrameAssembler` takes the jitter buffer's
  place: it releases a video frame as soon as its last packet (the marker)
  is in and every packet of it has arrived, an audio packet at once, and
  gives them to a :class:`ForwardedSource` instead of the decoder. Nothing is
  ever decoded; the receiver's NACKs, RTX and receiver reports keep working.
- **Fan out.** A :class:`ForwardedSource` hands each frame to every
  :class:`ForwardedTrack` subscribed to it (one per viewer).
- **Per viewer.** A :class:`ForwardedTrack` keeps a *bounded* queue. When a
  viewer falls behind the queue is emptied and the track waits for the next
  keyframe (dropping single encoded frames would corrupt the picture until
  one), and asks for one: memory stays flat with a slow viewer.
- **Send.** The viewer's ``RTCRtpSender`` packs an ``av.Packet`` through the
  codec's ``pack()`` without encoding it. A picture-loss request from the
  viewer is forwarded upstream (rate-limited) as a PLI on the primary SSRC.

One codec must be used on both legs, since nothing is transcoded:
:func:`pin_codecs` sets VP8 / Opus on a transceiver. The viewer's bandwidth
estimate stops at the relay; the robot's encoder follows the relay's own
estimate of the robot's uplink.

These are private aiortc internals (the receiver's jitter buffer attribute,
the sender's keyframe hook): they are pinned to :data:`AIORTC_VERSION` and
guarded by ``tests/integration/test_relay_media.py`` end to end.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import aiortc
import av
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

__all__ = [
    "AIORTC_VERSION",
    "EncodedFrame",
    "ForwardedSource",
    "ForwardedTrack",
    "FrameAssembler",
    "pin_codecs",
    "tap_receiver",
]

AIORTC_VERSION = "1.16.0"
"""The aiortc release whose internals this module relies on (checked at import)."""

if aiortc.__version__ != AIORTC_VERSION:  # pragma: no cover - guarded by constraints.txt
    raise ImportError(
        f"telepresence.sessions.watching.forwarding relies on aiortc {AIORTC_VERSION} internals; "
        f"aiortc {aiortc.__version__} is installed: re-check the module and its tests"
    )

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
VIDEO_MIME = "video/VP8"
AUDIO_MIME = "audio/opus"

MAX_PENDING_FRAMES = 4
"""Incomplete video frames held for a retransmission before the oldest is given up."""

KEYFRAME_INTERVAL_S = 0.5
"""At most one keyframe request upstream per this many seconds."""

VIDEO_QUEUE_FRAMES = 8
"""A viewer more than this many video frames behind (~270 ms at 30 fps) skips to a keyframe."""

AUDIO_QUEUE_PACKETS = 25
"""A viewer more than this many audio packets behind (500 ms) loses the oldest."""


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One encoded video frame or audio packet as it came off the wire."""

    data: bytes
    timestamp: int  # RTP timestamp, unwrapped (monotonic across the 32-bit wrap)
    keyframe: bool
    arrived: float  # time.monotonic() when it was complete


def vp8_is_keyframe(frame: bytes) -> bool:
    """A VP8 frame is a keyframe when bit 0 of its first byte (the P bit) is clear (RFC 6386)."""
    return bool(frame) and not frame[0] & 0x01


def vp8_starts_frame(payload: bytes) -> bool:
    """Whether an RTP payload begins a VP8 frame: S bit set and partition 0 (RFC 7741 §4.2)."""
    return bool(payload) and bool(payload[0] & 0x10) and not payload[0] & 0x07


class _Unwrapper:
    """Unwraps a wrapping RTP counter (16-bit sequence numbers, 32-bit timestamps).

    A value behind the last one (a reordered or retransmitted packet) maps
    below it rather than a whole cycle ahead.
    """

    __slots__ = ("_bits", "_last", "_value")

    def __init__(self, bits: int) -> None:
        self._bits = bits
        self._last: int | None = None
        self._value = 0

    def __call__(self, raw: int) -> int:
        if self._last is None:
            self._last = self._value = raw
            return raw
        cycle = 1 << self._bits
        diff = (raw - self._last) % cycle
        if diff >= cycle >> 1:
            diff -= cycle
        value = self._value + diff
        if diff > 0:
            self._last, self._value = raw, value
        return value


class _PartialFrame:
    __slots__ = ("first", "last", "packets")

    def __init__(self) -> None:
        self.packets: dict[int, bytes] = {}  # unwrapped sequence number -> depayloaded data
        self.first: int | None = None  # sequence number of the packet that starts the frame
        self.last: int | None = None  # sequence number of the packet with the marker bit

    def complete(self) -> bool:
        if self.first is None or self.last is None:
            return False
        return len(self.packets) == self.last - self.first + 1

    def data(self) -> bytes:
        return b"".join(self.packets[seq] for seq in sorted(self.packets))


class FrameAssembler:
    """Stands in for the receiver's jitter buffer: assembles frames, forwards them undecoded.

    ``add`` has the jitter buffer's signature: it returns ``(pli, frame)``;
    the frame is always ``None`` (so the receiver's decoder never runs) and
    ``pli`` is true when a keyframe should be requested from the sender.
    """

    def __init__(self, kind: str, deliver: Callable[[EncodedFrame], None]) -> None:
        self.kind = kind
        self._deliver = deliver
        self._video = kind == "video"
        self._capacity = 512 if self._video else 16  # read by the receiver's logging only
        self._seq = _Unwrapper(16)
        self._ts = _Unwrapper(32)
        self._pending: dict[int, _PartialFrame] = {}
        self._released: int | None = None  # unwrapped timestamp of the last frame released
        self._keyframe_wanted = False
        self.frames = 0
        self.given_up = 0

    @property
    def capacity(self) -> int:
        return self._capacity

    def want_keyframe(self) -> None:
        """Ask for a keyframe with the next packet (the receiver sends the PLI)."""
        self._keyframe_wanted = True

    def add(self, packet: Any) -> tuple[bool, None]:
        timestamp = self._ts(packet.timestamp)
        if self._released is not None and timestamp <= self._released:
            return self._take_pli(), None  # late: a retransmission of what is already out
        data: bytes = packet._data
        if not self._video:
            self._released = timestamp
            self._emit(data, timestamp, keyframe=True)
            return self._take_pli(), None
        seq = self._seq(packet.sequence_number)
        frame = self._pending.get(timestamp)
        if frame is None:
            frame = self._pending[timestamp] = _PartialFrame()
        frame.packets[seq] = data
        if vp8_starts_frame(packet.payload):
            frame.first = seq
        if packet.marker:
            frame.last = seq
        self._release()
        return self._take_pli(), None

    def _release(self) -> None:
        while self._pending:
            oldest = min(self._pending)
            frame = self._pending[oldest]
            if frame.complete():
                del self._pending[oldest]
                self._released = oldest
                data = frame.data()
                self._emit(data, oldest, keyframe=vp8_is_keyframe(data))
            elif len(self._pending) > MAX_PENDING_FRAMES:
                # A packet of the oldest frame is lost for good: give the frame
                # up; viewers skip to the next keyframe, which is asked for now.
                del self._pending[oldest]
                self._released = oldest
                self.given_up += 1
                self._keyframe_wanted = True
                self._emit(b"", oldest, keyframe=False)
            else:
                return

    def _emit(self, data: bytes, timestamp: int, keyframe: bool) -> None:
        self.frames += 1
        self._deliver(EncodedFrame(data, timestamp, keyframe, time.monotonic()))

    def _take_pli(self) -> bool:
        wanted, self._keyframe_wanted = self._keyframe_wanted, False
        return wanted and self._video

    def remove(self, count: int) -> None:  # part of the jitter buffer's interface
        self._pending.clear()


class ForwardedTrack(MediaStreamTrack):
    """What one viewer is sent: encoded frames from a source, through a bounded queue.

    A video track starts by waiting for a keyframe; when the viewer falls
    more than :data:`VIDEO_QUEUE_FRAMES` behind, it empties its queue and
    waits for the next keyframe again (asking the source for one). An audio
    track drops its oldest packet instead.
    """

    def __init__(self, source: ForwardedSource) -> None:
        super().__init__()
        self.kind = source.kind
        self._source = source
        self._video = source.kind == "video"
        self._limit = VIDEO_QUEUE_FRAMES if self._video else AUDIO_QUEUE_PACKETS
        self._queue: deque[EncodedFrame] = deque()
        self._ready = asyncio.Event()
        self._waiting_for_keyframe = self._video
        self._origin: int | None = None
        self._time_base = Fraction(1, VIDEO_CLOCK if self._video else AUDIO_CLOCK)
        self.sent = 0
        self.skipped = 0
        self.delay_ms = 0.0  # smoothed time frames wait in this viewer's queue
        self.max_delay_ms = 0.0

    def offer(self, frame: EncodedFrame) -> None:
        """Queue a frame for this viewer (called by the source, never blocks)."""
        if self.readyState != "live":
            return
        if self._video:
            if not frame.data:  # the source gave a broken frame up
                self._skip_to_keyframe()
                return
            if self._waiting_for_keyframe:
                if not frame.keyframe:
                    self.skipped += 1
                    return
                self._waiting_for_keyframe = False
            elif len(self._queue) >= self._limit:
                self._skip_to_keyframe()
                if not frame.keyframe:
                    self.skipped += 1
                    return
                self._waiting_for_keyframe = False
        elif len(self._queue) >= self._limit:
            self._queue.popleft()
            self.skipped += 1
        self._queue.append(frame)
        self._ready.set()

    def _skip_to_keyframe(self) -> None:
        self.skipped += len(self._queue)
        self._queue.clear()
        self._waiting_for_keyframe = True
        self._source.request_keyframe()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def recv(self) -> av.Packet[Any]:
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        frame = self._queue.popleft()
        waited = (time.monotonic() - frame.arrived) * 1000
        self.delay_ms += (waited - self.delay_ms) / 16
        self.max_delay_ms = max(self.max_delay_ms, waited)
        if self._origin is None:
            self._origin = frame.timestamp
        packet = av.Packet(frame.data)
        packet.pts = frame.timestamp - self._origin
        packet.time_base = self._time_base
        self.sent += 1
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            super().stop()
            self._source.unsubscribe(self)
            self._queue.clear()
            self._ready.set()


class ForwardedSource:
    """One upstream track's encoded frames, fanned out to any number of viewers."""

    def __init__(self, kind: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.kind = kind
        self._clock = clock
        self._viewers: list[ForwardedTrack] = []
        self._assembler: FrameAssembler | None = None
        self._last_request = -KEYFRAME_INTERVAL_S
        self.keyframe_requests = 0
        self.frames = 0

    def attach(self, receiver: RTCRtpReceiver) -> None:
        """Take the place of ``receiver``'s jitter buffer (before its first packet)."""
        self._assembler = FrameAssembler(self.kind, self.deliver)
        receiver._RTCRtpReceiver__jitter_buffer = self._assembler  # type: ignore[attr-defined]

    def subscribe(self) -> ForwardedTrack:
        track = ForwardedTrack(self)
        self._viewers.append(track)
        if self.kind == "video":
            self.request_keyframe()
        return track

    def unsubscribe(self, track: ForwardedTrack) -> None:
        if track in self._viewers:
            self._viewers.remove(track)

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    def deliver(self, frame: EncodedFrame) -> None:
        self.frames += 1
        for viewer in self._viewers:
            viewer.offer(frame)

    def request_keyframe(self) -> None:
        """Ask the upstream sender for a keyframe, at most once per :data:`KEYFRAME_INTERVAL_S`."""
        if self.kind != "video" or self._assembler is None:
            return
        now = self._clock()
        if now - self._last_request < KEYFRAME_INTERVAL_S:
            return
        self._last_request = now
        self.keyframe_requests += 1
        self._assembler.want_keyframe()

    def stop(self) -> None:
        for viewer in list(self._viewers):
            viewer.stop()


def pin_codecs(transceiver: RTCRtpTransceiver) -> None:
    """Offer and accept only the codec the relay forwards (VP8 / Opus) on this transceiver."""
    wanted = VIDEO_MIME if transceiver.kind == "video" else AUDIO_MIME
    capabilities = RTCRtpSender.getCapabilities(transceiver.kind)
    codecs = [c for c in capabilities.codecs if c.mimeType.lower() in (wanted.lower(), "video/rtx")]
    transceiver.setCodecPreferences(codecs)


def forward_keyframe_requests(sender: RTCRtpSender, source: ForwardedSource) -> None:
    """Send the viewer's picture-loss requests (PLI/FIR) upstream instead of to an encoder."""
    sender._send_keyframe = source.request_keyframe  # type: ignore[method-assign]


def tap_receiver(pc: RTCPeerConnection, track: MediaStreamTrack, source: ForwardedSource) -> None:
    """Attach ``source`` to the receiver of ``track`` (call from the ``track`` event)."""
    for receiver in pc.getReceivers():
        if receiver.track is track:
            source.attach(receiver)
            return
    raise LookupError("no receiver carries this track")
