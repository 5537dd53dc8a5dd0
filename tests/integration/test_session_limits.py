"""The documented limits and close codes of the session socket, each met for real.

Frames past the hard limit (1009), invalid UTF-8 (1007), the message budget and
its burst, dead-peer detection by ping: a client meets each of them as
docs/protocol.md says, and the server logs each as one quiet line, never a
traceback.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

import aiohttp
import pytest
import structlog
from factories import PASSWORD, PUPIL_PIN
from integration.session_helpers import HELLO, join_socket, next_of, open_lesson, settled

from telepresence.sessions.call import signalling
from telepresence.sessions.call.exchange import BURST
from telepresence.sessions.call.protocol import MAX_FRAME_BYTES, MESSAGES_PER_SECOND


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


@pytest.fixture
async def lesson(client, org, paired, pupil, robot_socket):
    _, ticket, invite = await open_lesson(client, org, paired, pupil, robot_socket)
    return ticket, invite


@pytest.fixture
def org_for():
    """Pair a robot on a given client: (device id, bearer headers)."""
    from factories import add_device, seed_org

    from telepresence.platform.http.context import DATABASE

    async def pair(client) -> tuple[str, dict[str, str]]:
        org = await seed_org(client.app[DATABASE])
        device = await add_device(client.app[DATABASE], org)
        admin = await client.post(
            "/api/auth/login", json={"email": org.email("admin"), "password": PASSWORD}
        )
        bearer = {"Authorization": f"Bearer {(await admin.json())['token']}"}
        code = await (
            await client.post(f"/api/devices/{device.id}/pairing-code", headers=bearer)
        ).json()
        pair = await (await client.post("/api/devices/pair", json={"code": code["code"]})).json()
        return device.id, {"Authorization": f"Bearer {pair['credential']}"}

    return pair


@pytest.fixture
def quiet_logs(caplog):
    """After the test: nothing logged above info, no traceback, no unretrieved future."""
    caplog.set_level(logging.INFO)
    with structlog.testing.capture_logs() as logs:
        yield logs
        await_gc = gc.collect  # an unretrieved future is reported when it is collected
        await_gc()
    expected = {"smtp_not_configured"}  # said once when an app starts without SMTP
    loud = [
        e
        for e in logs
        if e["event"] not in expected
        and (e["log_level"] not in {"debug", "info"} or "exc_info" in e)
    ]
    assert not loud, loud
    for noise in ("Traceback", "Future exception was never retrieved", "Task exception"):
        assert noise not in caplog.text, caplog.text


async def closed_with(ws) -> int | None:
    while not ws.closed:
        msg = await ws.receive(timeout=5)
        if msg.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}:
            break
    return ws.close_code


async def test_a_frame_past_the_hard_limit_closes_1009(client, lesson, quiet_logs):
    ticket, _ = lesson
    ws, _ = await join_socket(client, ticket["token"])
    await ws.send_str('{"type": "quality", "x": "' + "y" * (signalling.HARD_LIMIT_BYTES) + '"}')
    assert await closed_with(ws) == 1009


async def test_a_frame_past_the_soft_limit_is_refused_and_the_socket_stays(
    client, lesson, quiet_logs
):
    ticket, _ = lesson
    ws, _ = await join_socket(client, ticket["token"])
    await ws.send_str('{"type": "quality", "x": "' + "y" * MAX_FRAME_BYTES + '"}')
    assert (await next_of(ws, "error"))["code"] == "too_large"
    await ws.send_json({"type": "quality", "fps": 30, "id": "q"})
    assert (await next_of(ws, "ack"))["id"] == "q"
    await ws.close()


async def test_invalid_utf8_closes_1007(client, lesson, quiet_logs):
    ticket, _ = lesson
    ws, _ = await join_socket(client, ticket["token"])
    # A text frame whose bytes are not UTF-8 (the client library would refuse to make one).
    await ws._writer.send_frame(b'{"type": "leave", "x": "\xff\xfe"}', aiohttp.WSMsgType.TEXT)
    assert await closed_with(ws) == 1007


async def test_the_message_budget_allows_its_burst_then_refuses(client, lesson, quiet_logs):
    ticket, _ = lesson
    ws, _ = await join_socket(client, ticket["token"])
    candidate = {"type": "candidate", "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}
    for n in range(BURST + 10):  # fast to handle: nothing is written
        await ws.send_json(candidate | {"id": str(n)})
    acked, limited = 0, 0
    for _ in range(BURST + 10):
        reply = await ws.receive_json(timeout=5)
        if reply["type"] == "ack":
            acked += 1
        elif reply.get("code") == "rate_limited":
            limited += 1
    # The bucket holds BURST; a few more refill while the burst is read.
    assert BURST <= acked <= BURST + 5, acked
    assert limited == BURST + 10 - acked
    await asyncio.sleep(1.0)  # MESSAGES_PER_SECOND come back each second
    for n in range(MESSAGES_PER_SECOND // 2):
        await ws.send_json({"type": "event", "kind": "media_started", "id": f"later{n}"})
        assert (await next_of(ws, "ack"))["id"] == f"later{n}"
    await ws.close()


async def test_a_robot_that_stops_answering_pings_is_noticed_within_8_s(client, lesson, quiet_logs):
    ticket, invite = lesson
    pupil_ws, _ = await join_socket(client, ticket["token"])
    # A robot whose network died: its socket answers no pings (autoping off, never read).
    robot_ws = await client.ws_connect("/ws/session", autoping=False)
    await robot_ws.send_json({"type": "join", "token": invite["token"]})
    await next_of(pupil_ws, "peer_joined")
    started = time.monotonic()
    await next_of(pupil_ws, "peer_left", timeout=signalling.ROBOT_PING_S * 1.5 + 3)
    noticed = time.monotonic() - started
    assert noticed <= signalling.ROBOT_PING_S * 1.5 + 1, noticed
    await pupil_ws.close()
    await robot_ws.close()


async def test_the_pupil_is_given_longer_to_answer_a_ping(client, lesson):
    ticket, invite = lesson
    robot_ws, _ = await join_socket(client, invite["token"])
    pupil_ws = await client.ws_connect("/ws/session", autoping=False)
    await pupil_ws.send_json({"type": "join", "token": ticket["token"]})
    await next_of(robot_ws, "peer_joined")
    started = time.monotonic()
    await next_of(robot_ws, "peer_left", timeout=signalling.PUPIL_PING_S * 1.5 + 3)
    noticed = time.monotonic() - started
    # Still there when a robot would have been dropped; gone within 1.5 of its own period.
    assert signalling.ROBOT_PING_S * 1.5 + 1 < noticed <= signalling.PUPIL_PING_S * 1.5 + 1, noticed
    await pupil_ws.close()
    await robot_ws.close()


async def device_socket(client, paired):
    _, headers = paired
    ws = await client.ws_connect("/ws/device", headers=headers)
    await ws.send_json(HELLO)
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    return ws


async def test_the_device_socket_closes_1009_and_1007_quietly(client, paired, quiet_logs):
    from device_registry.socket import HARD_LIMIT_BYTES

    ws = await device_socket(client, paired)
    await ws.send_str('{"type": "heartbeat", "x": "' + "y" * HARD_LIMIT_BYTES + '"}')
    assert await closed_with(ws) == 1009
    ws = await device_socket(client, paired)
    await ws._writer.send_frame(b'{"type": "heartbeat", "seq": "\xff"}', aiohttp.WSMsgType.TEXT)
    assert await closed_with(ws) == 1007
    await asyncio.sleep(0.2)  # the server's side of it has finished


async def test_a_silent_device_is_dropped_after_its_ping_quietly(
    aiohttp_client, settings, clock, org_for, quiet_logs
):
    from device_registry.socket import DEVICE_HUB
    from telepresence.app import create_app

    quick = settings.model_copy(update={"heartbeat_seconds": 0.5})  # pings after 5.5 s of silence
    client = await aiohttp_client(create_app(quick, clock=clock))
    device_id, headers = await org_for(client)
    ws = await client.ws_connect("/ws/device", headers=headers, autoping=False)
    await ws.send_json(HELLO)
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    started = time.monotonic()
    while client.app[DEVICE_HUB].is_connected(device_id):  # never answers the ping
        assert time.monotonic() - started < 12, "the silent device was never dropped"
        await asyncio.sleep(0.1)
    assert time.monotonic() - started >= 5
    await ws.close()
