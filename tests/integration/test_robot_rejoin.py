"""A robot whose session token stops working gets a fresh one over its device socket."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import aiohttp
import loopback
import pytest
from factories import PUPIL_PIN, add_booking, add_device
from integration.session_helpers import HELLO, next_of, open_lesson, settled
from sqlalchemy import update

from telepresence.agent.client import AgentStopped, DeviceAgent
from telepresence.agent.hardware import SyntheticHardware
from telepresence.platform.http.context import DATABASE
from telepresence.sessions.call.signalling import SESSION_ROOMS
from telepresence.sessions.domain import Participant
from telepresence.sessions.models import SessionToken
from telepresence.sessions.testpeer import PupilPeer

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    monkeypatch.setattr("aioice.ice.get_host_addresses", loopback.loopback_only)


@pytest.fixture
async def pupil(client, org) -> dict[str, str]:
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


@pytest.fixture
async def robot_socket(client, paired):
    _, headers = paired
    ws = await client.ws_connect("/ws/device", headers=headers)
    await ws.send_json(HELLO)
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    await settled(client)
    yield ws
    await ws.close()


async def test_session_rejoin_answers_with_a_fresh_token_or_the_end(
    client, org, paired, pupil, robot_socket
):
    _, ticket, invite = await open_lesson(client, org, paired, pupil, robot_socket)
    await robot_socket.send_json({"type": "session_rejoin", "session_id": ticket["session_id"]})
    fresh = await next_of(robot_socket, "session_invite")
    assert fresh["session_id"] == ticket["session_id"]
    assert fresh["token"] != invite["token"]
    await robot_socket.send_json({"type": "session_rejoin", "session_id": "not-a-session"})
    assert (await next_of(robot_socket, "session_end"))["reason"] == "not your session"
    pupil_ws = await client.ws_connect("/ws/session")
    await pupil_ws.send_json({"type": "join", "token": ticket["token"]})
    await next_of(pupil_ws, "joined")
    await pupil_ws.send_json({"type": "end", "id": "e1"})
    acks = []
    while (frame := await pupil_ws.receive(timeout=3)).type == aiohttp.WSMsgType.TEXT:
        if (message := frame.json())["type"] == "ack":
            acks.append(message)
    assert pupil_ws.close_code == 4410
    assert acks == [{"type": "ack", "id": "e1"}]  # once, not twice
    # The pupil's end reaches the robot's device socket too.
    assert (await next_of(robot_socket, "session_end"))["reason"] == "ended by pupil"
    await robot_socket.send_json({"type": "session_rejoin", "session_id": ticket["session_id"]})
    assert (await next_of(robot_socket, "session_end"))["reason"] == "ended by pupil"


async def test_a_robot_told_4401_asks_for_a_token_and_is_back(client, org, login):
    device = await add_device(client.app[DATABASE], org)
    code = await (
        await client.post(f"/api/devices/{device.id}/pairing-code", headers=await login("admin"))
    ).json()
    credential = await DeviceAgent.pair(str(client.make_url("")).rstrip("/"), code["code"])
    agent = DeviceAgent(credential, SyntheticHardware(), model="test robot", backoff_base=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    peer = PupilPeer(str(client.make_url("")), (await resp.json())["token"])
    try:
        await asyncio.wait_for(agent.connected.wait(), 5)
        await settled(client)
        await peer.join(await add_booking(client.app[DATABASE], org, device.id))
        await peer.wait_frames(5, wait_s=10)
        first = agent.lesson
        async with client.app[DATABASE].transaction() as db:
            await db.execute(
                update(SessionToken)
                .where(SessionToken.participant == "robot")
                .values(revoked_at=datetime.now(UTC))
            )
        robot_ws = client.app[SESSION_ROOMS].ends()[(peer.session_id, Participant.ROBOT)]
        await robot_ws.close(code=4401, message=b"token revoked")
        await peer.wait_frames(10, wait_s=5)
        assert agent.lesson is not None
        assert agent.lesson is not first
        assert agent.lesson.session_id == peer.session_id
    finally:
        await peer.close()
        stop.set()
        with contextlib.suppress(AgentStopped):
            await asyncio.wait_for(task, 10)
