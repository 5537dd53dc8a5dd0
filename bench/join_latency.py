"""Join latency: from the pupil's tap to the first decoded frame of the classroom.

Runs with no arguments. Two measurements in the same run, on 127.0.0.1:

- baseline: two bare aiortc peers (the same synthetic camera and tone, the same
  transceivers and data channel as a lesson) connected directly in this
  process: offer → answer → first decoded video frame;
- Classbridge: the real service (``create_app`` on SQLite, served on a port in
  this process), the real device agent with its synthetic camera (already in
  the session, as it is once the lesson's window has opened), and the aiortc
  pupil client: ``POST /api/bookings/{id}/join`` → session socket → offer
  relayed by the server → answer → first decoded video frame.

Prints a table and, last, one JSON line. The goal (issue 4) is at most 1.25 times
the direct connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aioice.ice
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from device_registry.socket import DEVICE_HUB
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.platform.operations.logging import configure_logging

TRIALS = 12
WARMUP = 2
GOAL = 1.25


def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """Benchmarks talk to 127.0.0.1 only (aioice skips loopback by default)."""
    return ["127.0.0.1"] if use_ipv4 else []


class FirstFrame:
    """Reads every video track a peer connection receives; notes the first frame's time."""

    def __init__(self, pc: RTCPeerConnection) -> None:
        self.arrived: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._tasks: list[asyncio.Task[None]] = []
        pc.on("track", self._on_track)

    def _on_track(self, track: Any) -> None:
        if track.kind == "video":
            self._tasks.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track: Any) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                if not self.arrived.done():
                    self.arrived.set_result(time.perf_counter())

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()


async def direct_trial() -> float:
    from telepresence.agent.media import TestPatternTrack, ToneTrack

    robot, pupil = RTCPeerConnection(RTCConfiguration([])), RTCPeerConnection(RTCConfiguration([]))
    start = time.perf_counter()
    robot.addTrack(TestPatternTrack())
    robot.addTrack(ToneTrack())
    pupil.addTransceiver("video", direction="recvonly")
    pupil.addTrack(ToneTrack())
    pupil.createDataChannel("controls")
    frame = FirstFrame(pupil)
    await pupil.setLocalDescription(await pupil.createOffer())
    await robot.setRemoteDescription(pupil.localDescription)
    await robot.setLocalDescription(await robot.createAnswer())
    await pupil.setRemoteDescription(robot.localDescription)
    arrived = await asyncio.wait_for(frame.arrived, 10)
    frame.stop()
    await pupil.close()
    await robot.close()
    return (arrived - start) * 1000


async def serve(work: Path) -> tuple[web.AppRunner, str]:
    """The service on SQLite with the demo data, on a free port of 127.0.0.1."""
    from telepresence.app import create_app
    from telepresence.dbmigrate import upgrade
    from telepresence.demo import seed_demo
    from telepresence.platform.settings import Settings

    url = f"sqlite+aiosqlite:///{work / 'bench.sqlite3'}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(
        _env_file=None, database_url=url, data_dir=work, run_jobs=False, log_level="WARNING"
    )
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await seed_demo(runner.app[DATABASE], datetime.now(UTC))
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def book_now(app: web.Application, key: str) -> str:
    """A lesson for the demo pupil Sam on the robot Robbie that started a minute ago."""
    from sqlalchemy import select

    from device_registry.models import Device
    from scheduler.bookings.models import Booking
    from telepresence.platform.models import Pupil

    now = datetime.now(UTC)
    async with app[DATABASE].transaction() as session:
        sam = await session.scalar(select(Pupil).where(Pupil.pupil_code == "SAMK42"))
        robbie = await session.scalar(select(Device).where(Device.serial == "OAK-AV1-0001"))
        assert sam is not None
        assert robbie is not None
        booking = Booking(
            pupil_id=sam.id,
            school_id=sam.school_id,
            lesson_key=key,
            lesson_date=now.date(),
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(minutes=30),
            subject="Bench",
            room="M4",
            classroom_device_id=robbie.id,
            created_at=now,
            created_by="bench",
        )
        session.add(booking)
        await session.flush()
        return booking.id


async def one_trial(app: web.Application, server: str, agent: Any, token: str, key: str) -> float:
    """Book, let the robot be invited (as when the window opens), then time the pupil."""
    from telepresence.sessions.jobs import prepare_sessions
    from telepresence.sessions.testpeer import PupilPeer

    booking_id = await book_now(app, key)
    await app[DEVICE_HUB].flush()
    await prepare_sessions(app[JOBS].context)
    await wait_robot_in_session(agent)
    peer = PupilPeer(server, token)
    start = time.perf_counter()
    try:
        await peer.join(booking_id)
        await peer.wait_frames(1, wait_s=10)
        assert peer.first_frame_at is not None
        await peer.send({"type": "end"})
        await asyncio.wait_for(peer.ended.wait(), 5)
    finally:
        await peer.close()
    return (peer.first_frame_at - start) * 1000


async def classbridge_trials(work: Path) -> list[float]:
    """Join latency through the service, the agent and the signalling."""
    runner, server = await serve(work)
    app = runner.app
    agent, stop, agent_task = await start_agent(server)
    token = await pupil_login(server)
    try:
        results = [
            await one_trial(app, server, agent, token, f"bench-{n}") for n in range(TRIALS + WARMUP)
        ]
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(agent_task, 10)
        await runner.cleanup()
    return results[WARMUP:]


async def start_agent(server: str) -> Any:
    """The real device agent with a synthetic camera, paired as the demo robot Robbie."""
    import aiohttp

    from telepresence.agent.client import DeviceAgent
    from telepresence.agent.hardware import SyntheticHardware
    from telepresence.demo import DEMO_LOGINS

    admin = DEMO_LOGINS[0]
    async with aiohttp.ClientSession() as http:
        login = await (
            await http.post(
                f"{server}/api/auth/login", json={"email": admin.login, "password": admin.secret}
            )
        ).json()
        headers = {"Authorization": f"Bearer {login['token']}"}
        devices = await (await http.get(f"{server}/api/devices", headers=headers)).json()
        robot_id = next(d["id"] for d in devices if d["serial"] == "OAK-AV1-0001")
        code = await (
            await http.post(f"{server}/api/devices/{robot_id}/pairing-code", headers=headers)
        ).json()
    credential = await DeviceAgent.pair(server, code["code"])
    agent = DeviceAgent(credential, SyntheticHardware(), model="bench robot")
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await asyncio.wait_for(agent.connected.wait(), 10)
    return agent, stop, task


async def pupil_login(server: str) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{server}/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": "2468"}
        )
        return str((await resp.json())["token"])


async def wait_robot_in_session(agent: Any) -> None:
    previous = agent.lesson
    for _ in range(500):
        lesson = agent.lesson
        if lesson is not None and lesson is not previous and lesson._ws is not None:
            await asyncio.sleep(0.2)  # the robot's join has been answered
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("the robot was not invited")


async def main() -> dict[str, Any]:
    configure_logging("WARNING", json_logs=False)
    aioice.ice.get_host_addresses = loopback_only
    direct = []
    for trial in range(TRIALS + WARMUP):
        latency = await direct_trial()
        if trial >= WARMUP:
            direct.append(latency)
    with tempfile.TemporaryDirectory(prefix="classbridge-join-") as work:
        through = await classbridge_trials(Path(work))
    value, baseline = statistics.median(through), statistics.median(direct)
    print(f"join → first frame, {TRIALS} trials each (median, p90), ms")
    print(f"  direct aiortc peers : {baseline:7.1f}  {sorted(direct)[int(TRIALS * 0.9) - 1]:7.1f}")
    print(f"  through Classbridge : {value:7.1f}  {sorted(through)[int(TRIALS * 0.9) - 1]:7.1f}")
    ratio = value / baseline
    return {
        "bench": "join_latency",
        "value": round(value, 1),
        "baseline": round(baseline, 1),
        "ratio": round(ratio, 3),
        "goal": f"<={GOAL}",
        "met": ratio <= GOAL,
        "unit": "ms median",
        "trials": TRIALS,
        "classbridge_ms": [round(x, 1) for x in through],
        "direct_ms": [round(x, 1) for x in direct],
    }


if __name__ == "__main__":
    outcome = asyncio.run(main())
    print(json.dumps(outcome))
    sys.exit(0)
