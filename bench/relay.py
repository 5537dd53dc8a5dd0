"""The media relay: sessions per core at 30 fps, and latency added over a direct connection.

Runs with no arguments (about three minutes). Everything talks over 127.0.0.1.

Each *session* is one robot sending 640x480 VP8 video at 30 fps and Opus audio
to one viewer. The robots send a clip encoded once beforehand (a keyframe
every second), so that robots cost this process little and every frame's
bytes are known: a viewer recognises each frame it receives by its bytes and
so measures its latency (send → whole frame received) without decoding it.

Configurations, each in a fresh relay process (``--serve MODE`` of this
script) so that its CPU time and memory are its own:

- ``direct``: robot → viewer, no relay (the latency reference);
- ``forward``: robot → Classbridge's relay (:class:`LessonRelay`, encoded
  frames forwarded) → viewer;
- ``mediarelay``: robot → a server peer using aiortc's
  ``MediaRelay(buffered=False)`` (decode once, encode per viewer) → viewer,
  the reference the issue names.

Sessions per core = sessions / (relay CPU seconds per wall second), counted
only while every viewer still receives at least 95% of 30 fps. The goal
(issue 4): at least 6 times MediaRelay's sessions per core, and at most
10 ms latency added over direct at 8 sessions. The last line printed is one
JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice
import av
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from join_latency import loopback_only

from telepresence.sessions.watching.forwarding import (
    AUDIO_QUEUE_PACKETS,
    VIDEO_QUEUE_FRAMES,
    EncodedFrame,
    FrameAssembler,
    pin_codecs,
)
from telepresence.sessions.watching.relay import LessonRelay

FPS = 30
WIDTH, HEIGHT = 640, 480
CLIP_FRAMES = 300
KEYFRAME_EVERY = 30
WARMUP_S = 4.0
WINDOW_S = 10.0
CLEAN_FPS = 0.95 * FPS
GOAL_RATIO = 6.0
GOAL_ADDED_MS = 10.0
LATENCY_SESSIONS = 8


aioice.ice.get_host_addresses = loopback_only


# ---------------------------------------------------------------- the relay process


class SlowViewers:
    """Viewers whose link takes 5 frames a second of 30: their queues must stay bounded."""

    def __init__(self) -> None:
        self.tracks: list[Any] = []
        self.tasks: list[asyncio.Future[None]] = []
        self.high_water = 0

    def add(self, relay: LessonRelay) -> None:
        for source in (relay.video, relay.audio):
            track = source.subscribe()
            self.tracks.append(track)
            self.tasks.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track: Any) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                self.high_water = max(self.high_water, track.queued)
                await track.recv()
                await asyncio.sleep(0.2)

    @property
    def skipped(self) -> int:
        return sum(track.skipped for track in self.tracks)


async def serve(mode: str) -> None:
    """A relay on a free port: prints the port, serves until stdin closes."""
    relays: dict[str, Any] = {}
    peers: list[RTCPeerConnection] = []
    media_relay = MediaRelay()
    upstream_tracks: dict[str, dict[str, MediaStreamTrack]] = {}
    forward = mode.startswith("forward")
    slow = SlowViewers()

    async def upstream(request: web.Request) -> web.Response:
        sid, offer = request.match_info["sid"], await request.text()
        if forward:
            relays[sid] = LessonRelay(max_viewers=4)
            if mode == "forward-slow":
                slow.add(relays[sid])
            return web.Response(text=await relays[sid].accept_upstream(offer))
        pc = RTCPeerConnection(RTCConfiguration([]))
        peers.append(pc)
        tracks = upstream_tracks.setdefault(sid, {})
        pc.on("track", lambda track: tracks.__setitem__(track.kind, track))
        for kind in ("video", "audio"):
            pin_codecs(pc.addTransceiver(kind, direction="recvonly"))
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(text=pc.localDescription.sdp)

    async def viewer(request: web.Request) -> web.Response:
        sid, offer = request.match_info["sid"], await request.text()
        if forward:
            return web.Response(text=await relays[sid].add_viewer("viewer", offer))
        pc = RTCPeerConnection(RTCConfiguration([]))
        peers.append(pc)
        for kind in ("video", "audio"):
            track = media_relay.subscribe(upstream_tracks[sid][kind], buffered=False)
            pin_codecs(pc.addTransceiver(track, direction="sendonly"))
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(text=pc.localDescription.sdp)

    async def usage(_request: web.Request) -> web.Response:
        delays = [
            viewer["queue_delay_ms"]
            for relay in relays.values()
            for viewer in (await relay.stats())["viewers"].values()
        ]
        return web.json_response(
            {
                "cpu_s": time.process_time(),
                "rss_mb": rss_mb(),
                "queue_delay_ms": statistics.fmean(delays) if delays else 0.0,
                "slow_skipped": slow.skipped,
                "slow_high_water": slow.high_water,
            }
        )

    app = web.Application()
    app.router.add_post("/upstream/{sid}", upstream)
    app.router.add_post("/viewer/{sid}", viewer)
    app.router.add_get("/usage", usage)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for relay in relays.values():
        await relay.close()
    for pc in peers:
        await pc.close()
    await runner.cleanup()


def rss_mb() -> float:
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


# ---------------------------------------------------------------- robots and viewers


@dataclass
class Clip:
    """A pre-encoded loop: VP8 frames (bytes, keyframe) and Opus packets."""

    video: list[bytes]
    audio: list[bytes]
    index: dict[bytes, int] = field(default_factory=dict)

    @classmethod
    def make(cls) -> Clip:
        encoder = Vp8Encoder()
        video = []
        for n in range(CLIP_FRAMES):
            frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
            bar = (n * 8) % WIDTH
            row = bytearray(b"\x50" * WIDTH)
            row[bar : bar + 48] = b"\xd0" * len(row[bar : bar + 48])
            stripe = bytes([n % 256]) * 64
            luma = b"".join((stripe + bytes(row[64:])) for _ in range(HEIGHT))
            frame.planes[0].update(luma)
            frame.planes[1].update(bytes([128]) * (WIDTH * HEIGHT // 4))
            frame.planes[2].update(bytes([128]) * (WIDTH * HEIGHT // 4))
            frame.pts, frame.time_base = n * 3000, fractions.Fraction(1, 90_000)
            payloads, _ = encoder.encode(frame, force_keyframe=n % KEYFRAME_EVERY == 0)
            video.append(b"".join(vp8_depayload(p) for p in payloads))
        opus = OpusEncoder()
        audio: list[bytes] = []
        samples = 960
        for n in range(60):
            frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
            pcm = bytes(
                (
                    int(3000 * math.sin(2 * math.pi * 440 * (n * samples + i) / 48_000)) & 0xFFFF
                ).to_bytes(2, "little")[k]
                for i in range(samples)
                for k in (0, 1)
            )
            frame.planes[0].update(pcm)
            frame.pts, frame.sample_rate = n * samples, 48_000
            frame.time_base = fractions.Fraction(1, 48_000)
            payloads, _ = opus.encode(frame)
            audio.extend(payloads)
        clip = cls(video, audio)
        clip.index = {hashlib.blake2b(f, digest_size=8).digest(): i for i, f in enumerate(video)}
        if len(clip.index) != len(video):
            raise RuntimeError("the clip's frames are not all different")
        return clip


class ClipTrack(MediaStreamTrack):
    """Sends the clip's encoded frames in real time (never encodes); notes when each left."""

    def __init__(self, kind: str, clip: Clip, sent: dict[int, float] | None = None) -> None:
        super().__init__()
        self.kind = kind
        self._frames = clip.video if kind == "video" else clip.audio
        self._period = 1 / FPS if kind == "video" else 0.02
        self._step = 3000 if kind == "video" else 960
        self._tb = fractions.Fraction(1, 90_000 if kind == "video" else 48_000)
        self._n = 0
        self._start: float | None = None
        self.sent = sent

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._n * self._period
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        i = self._n % len(self._frames)
        packet = av.Packet(self._frames[i])
        packet.pts, packet.time_base = self._n * self._step, self._tb
        if self.sent is not None:
            self.sent[i] = time.monotonic()
        self._n += 1
        return packet


@dataclass
class Session:
    robot: RTCPeerConnection
    viewer: RTCPeerConnection
    sent: dict[int, float]
    received: list[float] = field(default_factory=list)  # arrival times of video frames
    latencies: list[float] = field(default_factory=list)
    measuring: bool = False


def viewer_peer(
    session_sent: dict[int, float], clip: Clip, session: list[Session]
) -> RTCPeerConnection:
    """A viewer that assembles frames (no decoding) and times the ones it recognises."""
    pc = RTCPeerConnection(RTCConfiguration([]))
    video = pc.addTransceiver("video", direction="recvonly")
    pin_codecs(video)
    pc.addTransceiver("audio", direction="recvonly")

    def arrived(frame: EncodedFrame) -> None:
        if not session or not frame.data:
            return
        s = session[0]
        s.received.append(frame.arrived)
        i = clip.index.get(hashlib.blake2b(frame.data, digest_size=8).digest())
        if i is not None and s.measuring and i in session_sent:
            s.latencies.append((frame.arrived - session_sent[i]) * 1000)

    video.receiver._RTCRtpReceiver__jitter_buffer = FrameAssembler("video", arrived)  # type: ignore[attr-defined]
    return pc


async def open_session(
    http: aiohttp.ClientSession | None, base: str | None, sid: str, clip: Clip
) -> Session:
    sent: dict[int, float] = {}
    robot = RTCPeerConnection(RTCConfiguration([]))
    for track in (ClipTrack("video", clip, sent), ClipTrack("audio", clip)):
        pin_codecs(robot.addTransceiver(track, direction="sendonly"))
    holder: list[Session] = []
    viewer = viewer_peer(sent, clip, holder)
    session = Session(robot, viewer, sent)
    holder.append(session)
    if http is None:  # direct: the viewer offers, the robot answers
        await viewer.setLocalDescription(await viewer.createOffer())
        await robot.setRemoteDescription(viewer.localDescription)
        await robot.setLocalDescription(await robot.createAnswer())
        await viewer.setRemoteDescription(robot.localDescription)
        return session
    await robot.setLocalDescription(await robot.createOffer())
    async with http.post(f"{base}/upstream/{sid}", data=robot.localDescription.sdp) as resp:
        resp.raise_for_status()
        answer = await resp.text()
    await robot.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    await asyncio.sleep(0.5)  # the upstream leg is up before the viewer asks for it
    await viewer.setLocalDescription(await viewer.createOffer())
    async with http.post(f"{base}/viewer/{sid}", data=viewer.localDescription.sdp) as resp:
        resp.raise_for_status()
        answer = await resp.text()
    await viewer.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return session


@dataclass
class Result:
    mode: str
    sessions: int
    fps_min: float
    fps_mean: float
    cpu_per_session: float  # fraction of one core
    rss_per_session_mb: float
    rss_growth_mb: float
    latency_p50: float
    latency_p90: float
    queue_delay_ms: float = math.nan  # inside the relay: frame complete → handed to the sender
    slow_skipped: int = 0  # frames the slow viewers skipped (forward-slow only)
    slow_high_water: int = 0  # the most frames a slow viewer ever had queued

    @property
    def clean(self) -> bool:
        return self.fps_min >= CLEAN_FPS

    @property
    def per_core(self) -> float:
        return 1 / self.cpu_per_session if self.cpu_per_session > 0 else math.inf


async def run(mode: str, n: int, clip: Clip) -> Result:
    proc = None
    http = None
    base = None
    if mode != "direct":
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        port = int(await asyncio.to_thread(proc.stdout.readline))
        base = f"http://127.0.0.1:{port}"
        http = aiohttp.ClientSession()
    try:

        async def usage() -> dict[str, float]:
            if http is None:
                return {"cpu_s": 0.0, "rss_mb": 0.0, "queue_delay_ms": math.nan}
            async with http.get(f"{base}/usage") as resp:
                return dict(await resp.json())

        before = await usage()
        sessions = [await open_session(http, base, f"s{i}", clip) for i in range(n)]
        await asyncio.sleep(WARMUP_S)
        start_usage, start = await usage(), time.monotonic()
        for s in sessions:
            s.measuring = True
        await asyncio.sleep(WINDOW_S)
        end_usage, end = await usage(), time.monotonic()
        wall = end - start
        fps = [sum(1 for t in s.received if start <= t <= end) / wall for s in sessions]
        lat = [x for s in sessions for x in s.latencies]
        for s in sessions:
            await s.viewer.close()
            await s.robot.close()
        return Result(
            mode=mode,
            sessions=n,
            fps_min=min(fps),
            fps_mean=statistics.fmean(fps),
            cpu_per_session=(end_usage["cpu_s"] - start_usage["cpu_s"]) / wall / n,
            queue_delay_ms=end_usage.get("queue_delay_ms", math.nan),
            slow_skipped=int(end_usage.get("slow_skipped", 0)),
            slow_high_water=int(end_usage.get("slow_high_water", 0)),
            rss_per_session_mb=(end_usage["rss_mb"] - before["rss_mb"]) / n,
            rss_growth_mb=end_usage["rss_mb"] - start_usage["rss_mb"],
            latency_p50=statistics.median(lat) if lat else math.nan,
            latency_p90=statistics.quantiles(lat, n=10)[-1] if len(lat) > 10 else math.nan,
        )
    finally:
        if http is not None:
            await http.close()
        if proc is not None:
            assert proc.stdin is not None
            proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            proc.kill()


def table(results: list[Result]) -> str:
    lines = [
        "| relay | sessions | fps (min / mean) | CPU per session | sessions per core "
        "| memory per session | RSS growth in 10 s | latency p50 / p90 | queue in relay |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        cpu = "—" if r.mode == "direct" else f"{r.cpu_per_session:.1%}"
        per_core = (
            "—" if r.mode == "direct" else f"{r.per_core:.1f}" + ("" if r.clean else " (not clean)")
        )
        mem = "—" if r.mode == "direct" else f"{r.rss_per_session_mb:.1f} MB"
        growth = "—" if r.mode == "direct" else f"{r.rss_growth_mb:+.1f} MB"
        latency = (
            "—" if math.isnan(r.latency_p50) else f"{r.latency_p50:.1f} / {r.latency_p90:.1f} ms"
        )
        lines.append(
            f"| {r.mode} | {r.sessions} | {r.fps_min:.1f} / {r.fps_mean:.1f} | {cpu} "
            f"| {per_core} | {mem} | {growth} | {latency} "
            f"| {'—' if math.isnan(r.queue_delay_ms) else f'{r.queue_delay_ms:.1f} ms'} |"
        )
    return "\n".join(lines)


PLAN = [
    ("mediarelay", 2),
    ("mediarelay", 6),
    ("direct", LATENCY_SESSIONS),
    ("forward", LATENCY_SESSIONS),
    ("forward", 16),
    ("forward-slow", 4),
]


async def explore(plan: list[tuple[str, int]]) -> None:
    """Only the configurations asked for (``--only forward:1,direct:1``): a table, no verdict."""
    clip = await asyncio.to_thread(Clip.make)
    print(table([await run(mode, n, clip) for mode, n in plan]))


async def main() -> dict[str, Any]:
    print("encoding the clip once …", file=sys.stderr)
    clip = await asyncio.to_thread(Clip.make)
    plan = PLAN
    results = []
    for mode, n in plan:
        print(f"{mode}, {n} sessions …", file=sys.stderr)
        results.append(await run(mode, n, clip))
    print(table(results))
    slow = results[5]
    print(
        f"\nslow viewers (one per session reading 5 of 30 fps, {slow.sessions} sessions): "
        f"at most {slow.slow_high_water} frames queued, {slow.slow_skipped} skipped, "
        f"relay RSS {slow.rss_growth_mb:+.1f} MB over {WINDOW_S:.0f} s; "
        f"the normal viewers beside them: {slow.fps_min:.1f} fps min"
    )
    reference = results[0]
    forward = results[3]
    direct = results[2]
    added = forward.latency_p50 - direct.latency_p50
    ratio = forward.per_core / reference.per_core
    flat = (
        slow.rss_growth_mb < 5 and slow.slow_high_water <= VIDEO_QUEUE_FRAMES + AUDIO_QUEUE_PACKETS
    )
    met = (
        forward.clean
        and reference.clean
        and ratio >= GOAL_RATIO
        and added <= GOAL_ADDED_MS
        and flat
    )
    print(
        f"\nsessions per core: forward {forward.per_core:.1f} at {forward.sessions} sessions, "
        f"MediaRelay {reference.per_core:.1f} at {reference.sessions}: {ratio:.1f}x (goal >= 6x); "
        f"latency added over direct at {LATENCY_SESSIONS} sessions: {added:+.1f} ms (goal <= 10 ms)"
    )
    return {
        "bench": "relay_sessions_per_core",
        "value": round(forward.per_core, 1),
        "baseline": round(reference.per_core, 1),
        "ratio": round(ratio, 2),
        "goal": ">=6 (and <=10 ms added at 8 sessions)",
        "added_latency_ms": round(added, 1),
        "met": met,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--serve", choices=["forward", "forward-slow", "mediarelay"], help=argparse.SUPPRESS
    )
    parser.add_argument("--only", help="e.g. forward:1,direct:1 (prints the table only)")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
    elif args.only:
        pairs = [item.split(":") for item in args.only.split(",")]
        asyncio.run(explore([(mode, int(n)) for mode, n in pairs]))
    else:
        os.environ.setdefault("PYTHONHASHSEED", "0")
        print(json.dumps(asyncio.run(main())))
