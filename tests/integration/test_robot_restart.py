"""A robot whose agent process restarts mid-lesson, or comes online late, is back in the lesson.

The robot is the real ``classbridge agent`` in a subprocess (synthetic camera),
killed with SIGKILL and started again with its saved credential; the pupil is
the aiortc test peer; the service runs on a port of this process, on SQLite and
on PostgreSQL. Frames must reach the pupil again within 5 s of the robot's
``hello``, with nobody touching anything.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import loopback
import pytest
from factories import PUPIL_PIN, add_booking, add_device
from sqlalchemy import select

from device_registry.socket import DEVICE_HUB
from telepresence.platform.http.context import DATABASE
from telepresence.sessions.models import SessionEvent
from telepresence.sessions.testpeer import PupilPeer

pytestmark = pytest.mark.e2e
SUPPORT = Path(__file__).parents[1] / "support"
BACK_WITHIN_S = 5.0


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    monkeypatch.setattr("aioice.ice.get_host_addresses", loopback.loopback_only)


class AgentProcess:
    """``classbridge agent`` for one paired robot, started and killed at will."""

    def __init__(self, server: str, credential_file: Path, log_file: Path) -> None:
        self.server = server
        self.credential_file = credential_file
        self.log_file = log_file
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, pairing_code: str | None = None) -> None:
        args = ["agent", "--server", self.server, "--credential-file", str(self.credential_file)]
        if pairing_code:
            args += ["--pair", pairing_code]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSBRIDGE_")}
        env |= {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(SUPPORT), env.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
            "NO_COLOR": "1",
        }
        with self.log_file.open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "classbridge"),
                *args,
                env=env,
                stdout=log,
                stderr=log,
            )

    async def kill(self) -> None:
        """SIGKILL: no goodbye on any socket, as when a robot loses power or crashes."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                await self.kill()


@pytest.fixture
async def robot(client, org, login, tmp_path) -> AsyncIterator[tuple[str, AgentProcess, str]]:
    """A paired robot whose agent is not running yet: (device id, agent, pairing code)."""
    device = await add_device(client.app[DATABASE], org)
    code = await (
        await client.post(f"/api/devices/{device.id}/pairing-code", headers=await login("admin"))
    ).json()
    server = str(client.make_url("")).rstrip("/")
    agent = AgentProcess(server, tmp_path / "credential", tmp_path / "agent.log")
    try:
        yield device.id, agent, code["code"]
    finally:
        await agent.stop()


@pytest.fixture
async def pupil_peer(client, org) -> AsyncIterator[PupilPeer]:
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    peer = PupilPeer(str(client.make_url("")), (await resp.json())["token"])
    yield peer
    await peer.close()


async def online(client, device_id: str, wait_s: float = 20) -> float:
    """When the device's socket was first seen here (≈ its hello), polled every 10 ms."""
    deadline = time.perf_counter() + wait_s
    while time.perf_counter() < deadline:
        if client.app[DEVICE_HUB].is_connected(device_id):
            return time.perf_counter()
        await asyncio.sleep(0.01)
    raise AssertionError("the agent never said hello")


async def offline(client, device_id: str, wait_s: float = 10) -> None:
    deadline = time.perf_counter() + wait_s
    while client.app[DEVICE_HUB].is_connected(device_id):
        assert time.perf_counter() < deadline, "the killed agent's socket stayed open"
        await asyncio.sleep(0.01)


async def frames_again(peer: PupilPeer, since: float, wait_s: float = 10) -> float:
    """Seconds from ``since`` until the pupil decodes new frames."""
    await peer.wait_frames(5, wait_s=wait_s)
    return time.perf_counter() - since


async def robot_timeline(client, session_id: str) -> list[str]:
    """The robot's comings and goings on the session's timeline, oldest first."""
    async with client.app[DATABASE].sessions() as db:
        rows = await db.scalars(
            select(SessionEvent)
            .where(
                SessionEvent.session_id == session_id,
                SessionEvent.participant == "robot",
                SessionEvent.kind.in_(["invited", "joined", "left", "reconnected"]),
            )
            .order_by(SessionEvent.id)
        )
        return [row.kind for row in rows]


async def test_a_robot_killed_mid_lesson_is_back_within_seconds_of_its_hello(
    client, org, robot, pupil_peer
):
    device_id, agent, code = robot
    await agent.start(pairing_code=code)
    await online(client, device_id)
    await asyncio.sleep(0.5)  # its hello has been looked at: no lesson then
    booking_id = await add_booking(client.app[DATABASE], org, device_id)
    await pupil_peer.join(booking_id)
    await pupil_peer.wait_frames(10, wait_s=10)

    await agent.kill()
    await offline(client, device_id)
    await asyncio.sleep(0.5)  # the pupil sits in front of a frozen picture
    stalled = pupil_peer.video_frames
    await asyncio.sleep(0.3)
    assert pupil_peer.video_frames == stalled

    await agent.start()  # the same credential file, a new process with no session token
    hello = await online(client, device_id)
    took = await frames_again(pupil_peer, hello)
    print(f"robot restart: frames at the pupil {took:.2f} s after its hello")
    assert took < BACK_WITHIN_S

    kinds = await robot_timeline(client, pupil_peer.session_id)
    # The gap is on the timeline: invited, in, gone, invited again, back.
    assert kinds == ["invited", "joined", "left", "invited", "reconnected"], kinds


async def test_a_robot_that_comes_online_after_the_pupil_joined_is_invited(
    client, org, robot, pupil_peer
):
    device_id, agent, code = robot
    booking_id = await add_booking(client.app[DATABASE], org, device_id)
    await pupil_peer.join(booking_id)  # nobody in the classroom yet
    await asyncio.sleep(0.5)
    assert pupil_peer.video_frames == 0

    await agent.start(pairing_code=code)
    hello = await online(client, device_id)
    took = await frames_again(pupil_peer, hello)
    print(f"late robot: frames at the pupil {took:.2f} s after its hello")
    assert took < BACK_WITHIN_S
    kinds = await robot_timeline(client, pupil_peer.session_id)
    # Invited when the pupil joined (nobody there to hear it), then again at its hello.
    assert kinds == ["invited", "invited", "joined"], kinds


async def test_a_robot_in_its_lesson_is_not_invited_again_when_its_device_socket_returns(
    client, org, robot, pupil_peer
):
    """The hello names the session the robot is in: its call is left alone."""
    device_id, agent, code = robot
    await agent.start(pairing_code=code)
    await online(client, device_id)
    await asyncio.sleep(0.5)  # its hello has been looked at: no lesson then
    booking_id = await add_booking(client.app[DATABASE], org, device_id)
    await pupil_peer.join(booking_id)
    await pupil_peer.wait_frames(10, wait_s=10)
    before = await robot_timeline(client, pupil_peer.session_id)
    await client.app[DEVICE_HUB].disconnect(device_id, 1011, "blip")
    await offline(client, device_id)
    await online(client, device_id)
    await asyncio.sleep(1.0)
    await pupil_peer.wait_frames(10, wait_s=2)  # the picture never stopped
    assert await robot_timeline(client, pupil_peer.session_id) == before
