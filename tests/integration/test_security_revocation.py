"""Revocation reaches live lessons: a revoked identity's lesson socket closes within a second.

Resetting a pupil's PIN, deactivating a pupil, rotating or revoking a robot's
credential: the open session socket of that end closes (4401) within a
second, on this instance and on another one, and its lesson token cannot be
used to join again.
"""

from __future__ import annotations

import time

import aiohttp
import pytest
from factories import PUPIL_PIN, add_booking

from telepresence.app import create_app
from telepresence.platform.http.context import DATABASE

HELLO = {"type": "hello", "protocol": [1], "model": "AV1", "software_version": "2.4.1"}
CLOSE_AUTH = 4401


@pytest.fixture
async def pupil_headers(client, org) -> dict[str, str]:
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def _next(ws, kind: str) -> dict[str, object]:
    while True:
        msg = await ws.receive_json(timeout=3)
        if msg["type"] == kind:
            return msg


async def _last_invite(device_ws) -> str:
    """The robot's newest lesson token (it may be invited again on connecting)."""
    token = str((await _next(device_ws, "session_invite"))["token"])
    while True:
        try:
            msg = await device_ws.receive_json(timeout=0.5)
        except TimeoutError:
            return token
        if msg["type"] == "session_invite":
            token = str(msg["token"])


async def _join(client, token: str):
    ws = await client.ws_connect("/ws/session")
    await ws.send_json({"type": "join", "token": token, "id": "j1"})
    joined = await ws.receive_json(timeout=5)
    return ws, joined


@pytest.fixture
async def lesson(client, org, paired, pupil_headers):
    """A live lesson: (pupil socket, pupil token, robot socket, robot token, robot id)."""
    robot_id, device_headers = paired
    device_ws = await client.ws_connect("/ws/device", headers=device_headers)
    await device_ws.send_json(HELLO)
    assert (await device_ws.receive_json(timeout=5))["type"] == "welcome"
    booking_id = await add_booking(client.app[DATABASE], org, robot_id)
    resp = await client.post(f"/api/bookings/{booking_id}/join", headers=pupil_headers)
    assert resp.status == 200, await resp.text()
    pupil_token = (await resp.json())["token"]
    robot_token = await _last_invite(device_ws)
    pupil_ws, joined = await _join(client, pupil_token)
    assert joined["type"] == "joined"
    robot_ws, joined = await _join(client, robot_token)
    assert joined["type"] == "joined"
    yield pupil_ws, pupil_token, robot_ws, robot_token, robot_id
    for ws in (pupil_ws, robot_ws, device_ws):
        await ws.close()


async def _closed_within_a_second(ws) -> float:
    started = time.monotonic()
    while True:
        msg = await ws.receive(timeout=1.5)
        if msg.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}:
            break
    took = time.monotonic() - started
    assert ws.close_code == CLOSE_AUTH
    assert took < 1.2, took
    return took


async def _cannot_rejoin(client, token: str) -> None:
    ws, answer = await _join(client, token)
    assert answer["type"] == "error"
    assert answer["code"] == "unauthorised"
    await ws.close()


async def test_resetting_the_pin_closes_the_pupils_lesson(client, org, login, lesson):
    pupil_ws, pupil_token, robot_ws, _, _ = lesson
    resp = await client.put(
        f"/api/pupils/{org.pupil.id}/pin", headers=await login("admin"), json={"pin": "9031"}
    )
    assert resp.status == 204
    await _closed_within_a_second(pupil_ws)
    await _cannot_rejoin(client, pupil_token)
    assert not robot_ws.closed  # the robot's end is not the pupil's identity


async def test_deactivating_the_pupil_closes_their_lesson(client, org, login, lesson):
    pupil_ws, pupil_token, _, _, _ = lesson
    resp = await client.patch(
        f"/api/pupils/{org.pupil.id}", headers=await login("admin"), json={"active": False}
    )
    assert resp.status == 200
    await _closed_within_a_second(pupil_ws)
    await _cannot_rejoin(client, pupil_token)


@pytest.mark.parametrize("action", ["rotate", "revoke"])
async def test_a_robots_credential_change_closes_its_lesson_end(client, login, lesson, action):
    pupil_ws, _, robot_ws, robot_token, robot_id = lesson
    resp = await client.post(
        f"/api/devices/{robot_id}/credential/{action}", headers=await login("admin")
    )
    assert resp.status in {201, 204}
    await _closed_within_a_second(robot_ws)
    await _cannot_rejoin(client, robot_token)
    assert not pupil_ws.closed


async def test_a_pin_reset_on_another_instance_closes_the_lesson_here(
    aiohttp_client, client, settings, clock, org, login, lesson
):
    pupil_ws, pupil_token, _, _, _ = lesson
    other = await aiohttp_client(create_app(settings, clock=clock))
    resp = await other.put(
        f"/api/pupils/{org.pupil.id}/pin", headers=await login("admin"), json={"pin": "9031"}
    )
    assert resp.status == 204
    await _closed_within_a_second(pupil_ws)
    await _cannot_rejoin(client, pupil_token)
