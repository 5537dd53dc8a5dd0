"""The relay's frame assembly and per-viewer queues, with hand-made RTP packets."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from telepresence.sessions.watching.forwarding import (
    AUDIO_QUEUE_PACKETS,
    KEYFRAME_INTERVAL_S,
    VIDEO_QUEUE_FRAMES,
    EncodedFrame,
    ForwardedSource,
    FrameAssembler,
    vp8_is_keyframe,
)


@dataclass
class Packet:
    """The fields of aiortc's RtpPacket the assembler reads."""

    sequence_number: int
    timestamp: int
    marker: int
    payload: bytes
    _data: bytes = field(default=b"")


def vp8_frame(seq: int, ts: int, parts: int, key: bool) -> list[Packet]:
    """The packets of one VP8 frame: descriptor S bit on the first, marker on the last."""
    packets = []
    for i in range(parts):
        body = bytes([0x00 if key and i == 0 else 0x01]) + bytes([i]) * 10
        descriptor = bytes([0x10 if i == 0 else 0x00])
        packets.append(
            Packet(
                sequence_number=(seq + i) % 65536,
                timestamp=ts % (1 << 32),
                marker=int(i == parts - 1),
                payload=descriptor + body,
                _data=body,
            )
        )
    return packets


def collect(kind: str = "video") -> tuple[FrameAssembler, list[EncodedFrame]]:
    out: list[EncodedFrame] = []
    return FrameAssembler(kind, out.append), out


def test_a_frame_is_released_when_its_marker_packet_completes_it() -> None:
    assembler, out = collect()
    first, second, third = vp8_frame(100, 9000, 3, key=True)
    assert assembler.add(first) == (False, None)
    assembler.add(second)
    assert out == []
    assembler.add(third)
    assert len(out) == 1
    assert out[0].keyframe is True
    assert out[0].data == first._data + second._data + third._data


def test_reordered_packets_still_make_a_whole_frame_in_order() -> None:
    assembler, out = collect()
    a = vp8_frame(10, 3000, 3, key=True)
    b = vp8_frame(13, 6000, 2, key=False)
    for packet in (a[0], a[2], b[0], b[1], a[1]):
        assembler.add(packet)
    assert [f.timestamp for f in out] == [3000, 6000]
    assert out[0].data == b"".join(p._data for p in a)


def test_sequence_numbers_and_timestamps_wrap() -> None:
    assembler, out = collect()
    for packet in vp8_frame(65534, (1 << 32) - 3000, 3, key=True) + vp8_frame(1, 0, 2, key=False):
        assembler.add(packet)
    assert len(out) == 2
    assert out[1].timestamp > out[0].timestamp


def test_a_frame_with_a_lost_packet_is_given_up_and_a_keyframe_asked_for() -> None:
    assembler, out = collect()
    lost = vp8_frame(0, 0, 3, key=True)
    plis = [assembler.add(p)[0] for p in (lost[0], lost[2])]
    seq, ts = 3, 3000
    for _ in range(5):
        for packet in vp8_frame(seq, ts, 2, key=False):
            plis.append(assembler.add(packet)[0])
        seq, ts = seq + 2, ts + 3000
    # The broken frame is handed on empty (viewers skip to a keyframe) and a
    # PLI goes out exactly once.
    assert out[0].data == b""
    assert assembler.given_up == 1
    assert plis.count(True) == 1
    # A retransmission arriving after the frame was given up is ignored.
    assembler.add(lost[1])
    assert [f.timestamp for f in out] == sorted(f.timestamp for f in out)


def test_audio_packets_pass_at_once_and_late_duplicates_are_dropped() -> None:
    assembler, out = collect("audio")
    for seq, ts in ((1, 960), (2, 1920), (2, 1920), (3, 2880)):
        assembler.add(Packet(seq, ts, 1, b"opus", b"opus"))
    assert [f.timestamp for f in out] == [960, 1920, 2880]
    assembler.want_keyframe()
    assert assembler.add(Packet(4, 3840, 1, b"x", b"x"))[0] is False  # never a PLI for audio


def test_vp8_keyframe_bit() -> None:
    assert vp8_is_keyframe(b"\x10\x02") is True
    assert vp8_is_keyframe(b"\x11\x02") is False
    assert vp8_is_keyframe(b"") is False


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def source_with_assembler(clock: Clock) -> tuple[ForwardedSource, FrameAssembler]:
    source = ForwardedSource("video", clock=clock)

    class Receiver:
        pass

    receiver = Receiver()
    source.attach(receiver)  # type: ignore[arg-type]
    assembler: FrameAssembler = receiver._RTCRtpReceiver__jitter_buffer  # type: ignore[attr-defined]
    return source, assembler


def frame(ts: int, key: bool = False) -> EncodedFrame:
    return EncodedFrame(b"\x00" if key else b"\x01", ts, key, 0.0)


def test_a_new_viewer_waits_for_a_keyframe_and_asks_for_one() -> None:
    clock = Clock()
    source, assembler = source_with_assembler(clock)
    track = source.subscribe()
    assert source.keyframe_requests == 1
    assert assembler.add(vp8_frame(0, 0, 1, key=False)[0])[0] is True
    source.deliver(frame(3000))
    assert track.queued == 0
    source.deliver(frame(6000, key=True))
    source.deliver(frame(9000))
    assert track.queued == 2


def test_a_slow_viewer_never_holds_more_than_its_bound() -> None:
    clock = Clock()
    source, _ = source_with_assembler(clock)
    slow = source.subscribe()
    fast = source.subscribe()
    received = []

    async def read_fast() -> None:
        received.append(await fast.recv())

    high_water = 0
    for i in range(3000):  # 100 s of video at 30 fps, a keyframe every 2 s
        clock.now += 1 / 30
        source.deliver(frame(i * 3000, key=i % 60 == 0))
        high_water = max(high_water, slow.queued)
        asyncio.run(read_fast())
    assert high_water <= VIDEO_QUEUE_FRAMES
    assert len(received) == 3000  # the other viewer lost nothing
    assert slow.skipped > 2900
    # It asked for keyframes each time it fell behind, at most twice a second.
    assert 50 <= source.keyframe_requests <= 100 / KEYFRAME_INTERVAL_S + 1


def test_after_skipping_a_slow_viewer_resumes_at_a_keyframe() -> None:
    clock = Clock()
    source, _ = source_with_assembler(clock)
    track = source.subscribe()

    async def next_pts() -> int:
        return int((await track.recv()).pts or 0)

    source.deliver(frame(30_000, key=True))
    assert asyncio.run(next_pts()) == 0  # pts counts from this viewer's first frame
    for i in range(1, VIDEO_QUEUE_FRAMES + 3):
        source.deliver(frame(30_000 + i * 3000))
    assert track.queued == 0
    source.deliver(frame(129_000))
    assert track.queued == 0
    source.deliver(frame(132_000, key=True))
    assert asyncio.run(next_pts()) == 102_000


def test_an_audio_viewer_drops_its_oldest_packets() -> None:
    source = ForwardedSource("audio")
    track = source.subscribe()
    for i in range(AUDIO_QUEUE_PACKETS + 10):
        source.deliver(EncodedFrame(b"a", i * 960, True, 0.0))
    assert track.queued == AUDIO_QUEUE_PACKETS
    assert track.skipped == 10


def test_a_stopped_viewer_is_forgotten() -> None:
    source = ForwardedSource("audio")
    track = source.subscribe()
    track.stop()
    assert source.viewers == 0
    source.deliver(EncodedFrame(b"a", 0, True, 0.0))
    assert track.queued == 0
