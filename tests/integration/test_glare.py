"""Offers that cross, answers that come late, offers to nobody: one working call, every time.

The first tests speak the session socket by hand so the server's rule is seen
message by message; the last one runs the real robot agent and the aiortc
pupil and makes both ends offer at random moments, again and again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

import loopback
import pytest
from factories import PUPIL_PIN, add_booking, add_device
from integration.session_helpers import HELLO, SDP, join_socket, next_of, open_lesson, settled

from telepresence.agent.client import AgentStopped, DeviceAgent
from telepresence.agent.hardware import SyntheticHardware
from telepresence.platform.http.context import DATABASE
from telepresence.sessions.testpeer import PupilPeer

pytestmark = pytest.mark.e2e
ROUNDS = 12


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


async def quiet(ws, kind: str, timeout: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        await next_of(ws, kind, timeout=timeout)


async def test_an_offer_to_an_absent_end_is_refused_and_said_so(
    client, org, paired, pupil, robot_socket
):
    _, ticket, _ = await open_lesson(client, org, paired, pupil, robot_socket)
    pupil_ws, joined = await join_socket(client, ticket["token"])
    assert joined["peer_present"] is False
    await pupil_ws.send_json({"type": "offer", "sdp": SDP, "offer_id": "p1", "id": "o1"})
    refused = await next_of(pupil_ws, "error")
    assert (refused["code"], refused["id"], refused["offer_id"]) == ("peer_absent", "o1", "p1")
    await quiet(pupil_ws, "ack")
    await pupil_ws.close()


async def test_only_the_answer_to_the_latest_offer_gets_through(
    client, org, paired, pupil, robot_socket
):
    _, ticket, invite = await open_lesson(client, org, paired, pupil, robot_socket)
    robot_ws, _ = await join_socket(client, invite["token"])
    pupil_ws, _ = await join_socket(client, ticket["token"])
    for offer_id in ("p1", "p2"):
        await pupil_ws.send_json({"type": "offer", "sdp": SDP, "offer_id": offer_id})
        assert (await next_of(robot_ws, "offer"))["offer_id"] == offer_id
    await robot_ws.send_json({"type": "answer", "sdp": SDP, "offer_id": "p1", "id": "a1"})
    stale = await next_of(robot_ws, "error")
    assert (stale["code"], stale["offer_id"]) == ("stale_answer", "p1")
    await robot_ws.send_json({"type": "answer", "sdp": SDP, "offer_id": "p2", "id": "a2"})
    assert (await next_of(robot_ws, "ack"))["id"] == "a2"
    answer = await next_of(pupil_ws, "answer")
    assert answer["offer_id"] == "p2"
    await quiet(pupil_ws, "answer")  # p1's answer never reached the pupil
    # An answer without an offer_id (an older client) answers the latest offer, and says so.
    await pupil_ws.send_json({"type": "offer", "sdp": SDP})
    given = (await next_of(robot_ws, "offer"))["offer_id"]
    assert given
    await robot_ws.send_json({"type": "answer", "sdp": SDP})
    assert (await next_of(pupil_ws, "answer"))["offer_id"] == given
    for ws in (pupil_ws, robot_ws):
        await ws.close()


async def test_crossing_offers_resolve_to_the_pupils(client, org, paired, pupil, robot_socket):
    _, ticket, invite = await open_lesson(client, org, paired, pupil, robot_socket)
    robot_ws, _ = await join_socket(client, invite["token"])
    pupil_ws, _ = await join_socket(client, ticket["token"])
    await asyncio.gather(
        pupil_ws.send_json({"type": "offer", "sdp": SDP, "offer_id": "p1"}),
        robot_ws.send_json({"type": "offer", "sdp": SDP, "offer_id": "r1"}),
    )
    # Whichever way they crossed, the robot hears that its offer lost and gets the pupil's.
    got: dict[str, dict[str, object]] = {}
    while len(got) < 2:  # in either order, depending on how they crossed
        message = await robot_ws.receive_json(timeout=3)
        if message["type"] in {"error", "offer"}:
            got[message["type"]] = message
    assert (got["error"]["code"], got["error"]["offer_id"]) == ("glare", "r1")
    assert got["offer"]["offer_id"] == "p1"
    await quiet(pupil_ws, "offer")
    await robot_ws.send_json({"type": "answer", "sdp": SDP, "offer_id": "p1"})
    assert (await next_of(pupil_ws, "answer"))["offer_id"] == "p1"
    # With nothing in flight the robot may offer, and the pupil answers it.
    await robot_ws.send_json({"type": "offer", "sdp": SDP, "offer_id": "r2"})
    assert (await next_of(pupil_ws, "offer"))["offer_id"] == "r2"
    await pupil_ws.send_json({"type": "answer", "sdp": SDP, "offer_id": "r2"})
    assert (await next_of(robot_ws, "answer"))["offer_id"] == "r2"
    for ws in (pupil_ws, robot_ws):
        await ws.close()


@pytest.fixture
async def robot(client, org, login):
    device = await add_device(client.app[DATABASE], org)
    code = await (
        await client.post(f"/api/devices/{device.id}/pairing-code", headers=await login("admin"))
    ).json()
    credential = await DeviceAgent.pair(str(client.make_url("")).rstrip("/"), code["code"])
    agent = DeviceAgent(
        credential, SyntheticHardware(), model="test robot", backoff_base=0.05, backoff_cap=0.3
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await asyncio.wait_for(agent.connected.wait(), 5)
    await settled(client)
    yield device.id, agent
    stop.set()
    with contextlib.suppress(AgentStopped):
        await asyncio.wait_for(task, 10)


async def test_both_ends_offering_at_random_moments_always_end_in_one_working_call(
    client, org, robot
):
    device_id, agent = robot
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    peer = PupilPeer(str(client.make_url("")), (await resp.json())["token"])
    rng = random.Random(13)

    async def later(delay: float, offer) -> None:
        await asyncio.sleep(delay)
        await offer()

    try:
        await peer.join(await add_booking(client.app[DATABASE], org, device_id))
        await peer.wait_frames(5, wait_s=10)
        lesson = agent.lesson
        assert lesson is not None
        peer.refusals.clear()  # the first offer may have come before the robot (peer_absent)
        for round_ in range(ROUNDS):
            await asyncio.gather(
                later(rng.uniform(0, 0.08), peer.offer),
                later(rng.uniform(0, 0.08), lesson.offer),
            )
            await peer.wait_frames(10, wait_s=8)
            assert peer.pc is not None
            assert peer.pc.connectionState == "connected", round_
            ack = await peer.control("raise_hand" if round_ % 2 else "lower_hand")
            assert ack["ok"] is True, round_
        assert agent.lesson is lesson  # no reconnect was needed
        codes = {refusal["code"] for refusal in peer.refusals}
        assert codes <= {"glare"}, peer.refusals
    finally:
        await peer.close()
