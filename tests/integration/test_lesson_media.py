"""Real media end to end: the device agent (aiortc, synthetic camera) and an aiortc pupil.

Both peers are real aiortc peer connections over 127.0.0.1, signalled through
the real server; frames are counted as they are decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import aiohttp
import loopback
import pytest
from factories import PASSWORD, PUPIL_PIN, add_booking, add_device, seed_org
from sqlalchemy import select

from device_registry.socket import DEVICE_HUB
from telepresence.agent.client import AgentStopped, DeviceAgent
from telepresence.agent.hardware import SyntheticHardware
from telepresence.platform.http.context import DATABASE
from telepresence.platform.operations.metrics import METRICS
from telepresence.sessions.models import SessionEvent
from telepresence.sessions.testpeer import PupilPeer

pytestmark = pytest.mark.e2e
ROBOT_JOINS = "classbridge_join_first_frame_seconds_count"
ROBOT_JOIN_TIME = "classbridge_join_first_frame_seconds_sum"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    monkeypatch.setattr("aioice.ice.get_host_addresses", loopback.loopback_only)


@pytest.fixture
async def robot(client, org, login):
    device = await add_device(client.app[DATABASE], org)
    code = await (
        await client.post(f"/api/devices/{device.id}/pairing-code", headers=await login("admin"))
    ).json()
    server = str(client.make_url("")).rstrip("/")
    credential = await DeviceAgent.pair(server, code["code"])
    hardware = SyntheticHardware()
    agent = DeviceAgent(
        credential, hardware, model="test robot", backoff_base=0.05, backoff_cap=0.3
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await asyncio.wait_for(agent.connected.wait(), 5)
    yield device.id, agent, hardware
    stop.set()
    with contextlib.suppress(AgentStopped):
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def pupil_peer(client, org):
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    peer = PupilPeer(str(client.make_url("")), (await resp.json())["token"])
    yield peer
    await peer.close()


async def test_pupil_sees_the_class_and_drives_the_robot(client, org, robot, pupil_peer, login):
    device_id, agent, hardware = robot
    booking_id = await add_booking(client.app[DATABASE], org, device_id)
    await pupil_peer.join(booking_id)
    await pupil_peer.wait_frames(15, wait_s=10)
    assert pupil_peer.first_frame_at is not None
    assert pupil_peer.joined_at is not None
    assert pupil_peer.first_frame_at - pupil_peer.joined_at < 5
    assert hardware.live is True
    # The robot reported how long its join took (POST /api/client-timings, device credential).
    registry = client.app[METRICS].registry
    for _ in range(100):
        if registry.get_sample_value(ROBOT_JOINS, {"end": "robot"}):
            break
        await asyncio.sleep(0.05)
    assert registry.get_sample_value(ROBOT_JOINS, {"end": "robot"}) == 1
    assert 0 < (registry.get_sample_value(ROBOT_JOIN_TIME, {"end": "robot"}) or 0) < 5
    ack = await pupil_peer.control("raise_hand")
    assert ack["ok"] is True
    assert ack["detail"] == "head light flashing"
    head = await pupil_peer.control("head", pan=20, tilt=-5)
    assert head["detail"] == "head at pan 20, tilt -5"
    bad = await pupil_peer.control("self_destruct")
    assert bad["ok"] is False
    assert hardware.hand_raised is True
    for _ in range(100):
        if pupil_peer.audio_frames > 5:
            break
        await asyncio.sleep(0.05)
    assert pupil_peer.audio_frames > 5
    events = await (
        await client.get(
            f"/api/sessions/{pupil_peer.session_id}/events", headers=await login("hospital_staff")
        )
    ).json()
    kinds = [(e["participant"], e["kind"]) for e in events]
    assert ("robot", "media_started") in kinds
    controls = [e["data"]["control"] for e in events if e["kind"] == "control"]
    assert controls == ["raise_hand", "head"]
    lesson = agent.lesson
    assert lesson is not None
    await pupil_peer.send({"type": "end"})
    await asyncio.wait_for(pupil_peer.ended.wait(), 5)
    await asyncio.wait_for(lesson.finished.wait(), 5)
    assert agent.lesson is None  # session_end on its device socket: it left the lesson
    assert hardware.live is False


async def test_a_dropped_pupil_comes_back_into_the_same_session(client, org, robot, pupil_peer):
    device_id, _, _ = robot
    booking_id = await add_booking(client.app[DATABASE], org, device_id)
    await pupil_peer.join(booking_id)
    await pupil_peer.wait_frames(5)
    session_id = pupil_peer.session_id
    await pupil_peer.drop_socket()
    started = asyncio.get_running_loop().time()
    await pupil_peer.connect_socket()
    await pupil_peer.wait_frames(5, wait_s=5)
    assert asyncio.get_running_loop().time() - started < 3
    assert pupil_peer.session_id == session_id


async def test_the_robot_rejoins_after_its_sockets_drop(client, org, robot, pupil_peer):
    device_id, agent, _ = robot
    booking_id = await add_booking(client.app[DATABASE], org, device_id)
    await pupil_peer.join(booking_id)
    await pupil_peer.wait_frames(5)
    await client.app[DEVICE_HUB].disconnect(device_id, 1011, "restart")
    lesson = agent.lesson
    assert lesson is not None
    assert lesson._ws is not None
    await lesson._ws.close()
    await pupil_peer.wait_frames(10, wait_s=5)
    assert agent.lesson is lesson


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def run_agent(app, server: str, org):
    """Pair a new robot through the HTTP API and run the real agent for it."""
    device = await add_device(app[DATABASE], org)
    async with aiohttp.ClientSession() as http:
        login = await (
            await http.post(
                f"{server}/api/auth/login", json={"email": org.email("admin"), "password": PASSWORD}
            )
        ).json()
        code = await (
            await http.post(
                f"{server}/api/devices/{device.id}/pairing-code",
                headers={"Authorization": f"Bearer {login['token']}"},
            )
        ).json()
    credential = await DeviceAgent.pair(server, code["code"])
    hardware = SyntheticHardware()
    agent = DeviceAgent(
        credential, hardware, model="test robot", backoff_base=0.05, backoff_cap=0.5
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await asyncio.wait_for(agent.connected.wait(), 5)
    return agent, device.id, stop, task


async def pupil_peer_for(server: str) -> PupilPeer:
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{server}/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
        )
        return PupilPeer(server, (await resp.json())["token"])


async def test_both_ends_rejoin_the_same_session_after_a_server_restart(settings, clock):
    """The server process goes away mid-lesson and comes back on the same port."""
    from aiohttp import web

    from telepresence.app import create_app

    port = free_port()

    async def start() -> web.AppRunner:
        runner = web.AppRunner(create_app(settings, clock=clock), shutdown_timeout=1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    runner = await start()
    server = f"http://127.0.0.1:{port}"
    org = await seed_org(runner.app[DATABASE])
    agent, robot_id, stop, task = await run_agent(runner.app, server, org)
    peer = await pupil_peer_for(server)
    try:
        booking_id = await add_booking(runner.app[DATABASE], org, robot_id)
        await peer.join(booking_id)
        await peer.wait_frames(5)
        session_id = peer.session_id
        await runner.cleanup()  # the server process is gone
        runner = await start()  # ... and back, with the same database
        restarted = asyncio.get_running_loop().time()
        await peer.wait_frames(10, wait_s=8)
        # The media never went through the server: frames may flow before the pupil's socket
        # is back. Wait for the socket itself (its backoff is at most 1 s).
        while peer.reconnects < 1 and asyncio.get_running_loop().time() - restarted < 5:
            await asyncio.sleep(0.05)
        assert peer.reconnects >= 1
        assert asyncio.get_running_loop().time() - restarted < 5
        assert peer.session_id == session_id
        assert agent.lesson is not None
        assert agent.lesson.session_id == session_id
        back = {("pupil", "reconnected"), ("robot", "reconnected")}
        kinds: list[tuple[str | None, str]] = []
        while asyncio.get_running_loop().time() - restarted < 5:  # both ends, within 5 s
            async with runner.app[DATABASE].sessions() as db:
                kinds = [
                    (e.participant, e.kind)
                    for e in await db.scalars(
                        select(SessionEvent)
                        .where(SessionEvent.session_id == session_id)
                        .order_by(SessionEvent.id)
                    )
                ]
            if back <= set(kinds):
                break
            await asyncio.sleep(0.05)
        assert ("pupil", "reconnected") in kinds
        assert ("robot", "reconnected") in kinds
    finally:
        await peer.close()
        stop.set()
        with contextlib.suppress(AgentStopped, TimeoutError):
            await asyncio.wait_for(task, 10)
        await runner.cleanup()


async def test_a_readiness_call_measures_the_room_and_is_stored(client, org, robot, login):
    device_id, _, _ = robot
    admin = await login("admin")
    sent = await client.post(
        f"/api/devices/{device_id}/commands",
        headers=admin,
        json={"command": "readiness_test", "args": {"room": "Lab 3"}},
    )
    assert sent.status == 202
    command_id = (await sent.json())["id"]
    for _ in range(300):
        listed = await (
            await client.get(f"/api/devices/{device_id}/commands", headers=admin)
        ).json()
        done = next(c for c in listed if c["id"] == command_id)
        if done["status"] != "sent":
            break
        await asyncio.sleep(0.1)
    assert done["status"] == "done", done["detail"]
    checks = await (
        await client.get(
            f"/api/readiness?school_id={org.school_id}", headers=await login("coordinator")
        )
    ).json()
    assert len(checks) == 1
    check = checks[0]
    assert check["room"] == "Lab 3"
    assert check["verdict"] == "good"
    assert check["fps"] > 10
    assert 0 <= check["rtt_ms"] < 150
    assert check["bitrate_kbps"] > 50
    await client.post("/login", data={"email": org.email("coordinator"), "password": PASSWORD})
    page = await (await client.get("/schools")).text()
    assert "Connection: Good for lessons" in page
    # The device's own page reads the same result: verdict, figures, where and when.
    device_page = await (await client.get(f"/devices/{device_id}")).text()
    assert "Good for lessons" in device_page
    assert "Lab 3, Test Academy" in device_page
    assert "ms round trip" in device_page
    assert "(Europe/London)" in device_page
    assert "{" not in device_page.split('id="room-test"')[1].split("</section>")[0]


async def test_readiness_endpoints_are_for_devices_only(client, org, login):
    staff = await login("hospital_staff")
    assert (await client.post("/api/readiness", json={}, headers=staff)).status == 403
    assert (
        await client.get("/api/readiness?school_id=x", headers=await login("assistant"))
    ).status == 403
