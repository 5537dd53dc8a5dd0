"""Live sessions: joining in the window, signalling between exactly two ends, ending."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import aiohttp
import pytest
from factories import PUPIL_PIN, add_booking
from integration.session_helpers import (
    HELLO,
    SDP,
    drain,
    join_socket,
    next_of,
    open_lesson,
    settled,
)
from sqlalchemy import select

from device_registry.socket import DEVICE_HUB
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.sessions.jobs import end_finished_sessions
from telepresence.sessions.models import LessonSession


@pytest.fixture
async def pupil(client, org) -> dict[str, str]:
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


@pytest.fixture
async def robot_socket(client, paired):
    """The robot's device socket (where session invitations arrive)."""
    _, headers = paired
    ws = await client.ws_connect("/ws/device", headers=headers)
    await ws.send_json(HELLO)
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    await settled(client)  # its hello was looked at before the test books anything
    yield ws
    await ws.close()


async def test_pupil_joins_and_the_robot_is_invited(client, org, paired, pupil, robot_socket):
    _, ticket, invite = await open_lesson(client, org, paired, pupil, robot_socket)
    assert ticket["token"].startswith("cbl_")
    assert ticket["ice_servers"] == []  # nothing configured: no public STUN, ever
    assert invite["token"] != ticket["token"]
    pupil_ws, joined = await join_socket(client, ticket["token"])
    assert joined["participant"] == "pupil"
    assert joined["peer_present"] is False
    robot_ws, robot_joined = await join_socket(client, invite["token"])
    assert robot_joined["participant"] == "robot"
    assert robot_joined["peer_present"] is True
    assert (await next_of(pupil_ws, "peer_joined"))["participant"] == "robot"
    await pupil_ws.send_json({"type": "offer", "sdp": SDP, "id": "o1"})
    assert await next_of(pupil_ws, "ack") == {"type": "ack", "id": "o1"}
    assert (await next_of(robot_ws, "offer"))["sdp"] == SDP
    await robot_ws.send_json({"type": "answer", "sdp": SDP})
    assert (await next_of(pupil_ws, "answer"))["sdp"] == SDP
    candidate = {
        "type": "candidate",
        "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    }
    await robot_ws.send_json(candidate)
    got = await next_of(pupil_ws, "candidate")
    assert got["candidate"] == candidate["candidate"]
    for ws in (pupil_ws, robot_ws):
        await ws.close()


async def test_joining_is_only_for_the_pupil_inside_the_window(client, org, paired, pupil, login):
    robot_id, _ = paired
    early = await add_booking(client.app[DATABASE], org, robot_id, starts_in=timedelta(hours=2))
    resp = await client.post(f"/api/bookings/{early}/join", headers=pupil)
    assert resp.status == 409
    assert "opens for joining in" in (await resp.json())["detail"]
    over = await add_booking(client.app[DATABASE], org, robot_id, starts_in=timedelta(hours=-2))
    assert (
        "finished"
        in (await (await client.post(f"/api/bookings/{over}/join", headers=pupil)).json())["detail"]
    )
    cancelled = await add_booking(client.app[DATABASE], org, robot_id, status="cancelled")
    assert (await client.post(f"/api/bookings/{cancelled}/join", headers=pupil)).status == 409
    now = await add_booking(client.app[DATABASE], org, robot_id, starts_in=timedelta(minutes=-5))
    assert (
        await client.post(f"/api/bookings/{now}/join", headers=await login("hospital_staff"))
    ).status == 403
    assert (await client.post("/api/bookings/nope/join", headers=pupil)).status == 404


async def test_bad_tokens_and_origins_are_refused(client, org, paired, pupil, robot_socket):
    _, ticket, _ = await open_lesson(client, org, paired, pupil, robot_socket)
    ws = await client.ws_connect("/ws/session")
    await ws.send_json({"type": "join", "token": "cbl_" + "x" * 43})
    assert (await ws.receive_json(timeout=3))["code"] == "unauthorised"
    await ws.receive(timeout=3)
    assert ws.close_code == 4401
    ws = await client.ws_connect("/ws/session")
    await ws.send_json({"type": "offer", "sdp": SDP})
    assert (await ws.receive_json(timeout=3))["code"] == "join_first"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/session", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    again = await client.post(f"/api/bookings/{ticket['booking_id']}/join", headers=pupil)
    assert again.status == 200
    stale = await client.ws_connect("/ws/session")
    await stale.send_json({"type": "join", "token": ticket["token"]})  # replaced by the rejoin
    assert (await stale.receive_json(timeout=3))["code"] == "unauthorised"


async def test_bad_messages_are_refused_and_nothing_is_forwarded(
    client,
    org,
    paired,
    pupil,
    robot_socket,
):
    _, ticket, invite = await open_lesson(client, org, paired, pupil, robot_socket)
    pupil_ws, _ = await join_socket(client, ticket["token"])
    robot_ws, _ = await join_socket(client, invite["token"])
    await next_of(pupil_ws, "peer_joined")
    cases = [
        (pupil_ws, {"type": "offer", "sdp": "hello there, not an sdp"}, "invalid_message"),
        (pupil_ws, {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 5000}, "too_large"),
        (pupil_ws, {"type": "answer", "sdp": SDP}, "stale_answer"),  # no offer to answer
        (robot_ws, {"type": "answer", "sdp": SDP, "offer_id": "p9"}, "stale_answer"),
        (pupil_ws, {"type": "teleport"}, "unknown_type"),
        (pupil_ws, {"type": "candidate", "candidate": "<script>"}, "invalid_message"),
        (pupil_ws, {"type": "event", "kind": "control", "control": "head"}, "wrong_end"),
        (robot_ws, {"type": "end"}, "wrong_end"),
    ]
    for ws, message, code in cases:
        await ws.send_str(json.dumps(message))
        reply = await next_of(ws, "error")
        assert reply["code"] == code, message
    with pytest.raises(TimeoutError):
        await next_of(robot_ws, "offer", timeout=0.3)
    with pytest.raises(TimeoutError):
        await next_of(pupil_ws, "answer", timeout=0.3)
    # A refused message is answered by its error only, never also acknowledged.
    await robot_ws.send_json({"type": "end", "id": "r1"})
    refused = await next_of(robot_ws, "error")
    assert refused["code"] == "wrong_end"
    with pytest.raises(TimeoutError):
        await next_of(robot_ws, "ack", timeout=0.3)
    for ws in (pupil_ws, robot_ws):
        await ws.close()


async def test_a_candidate_flood_is_cut_off(client, org, paired, pupil, robot_socket):
    _, ticket, invite = await open_lesson(client, org, paired, pupil, robot_socket)
    pupil_ws, _ = await join_socket(client, ticket["token"])
    robot_ws, _ = await join_socket(client, invite["token"])
    candidate = {"type": "candidate", "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}
    for _ in range(200):
        await pupil_ws.send_json(candidate)
    codes = {e["code"] for e in await drain(pupil_ws, "error", 0.5)}
    assert codes <= {"rate_limited", "too_many_candidates"}
    assert codes
    forwarded = len(await drain(robot_ws, "candidate", 0.3))
    assert forwarded <= 60
    for ws in (pupil_ws, robot_ws):
        await ws.close()


async def test_the_timeline_records_joins_controls_quality_and_gaps(
    client,
    org,
    paired,
    pupil,
    robot_socket,
    login,
):
    _, ticket, invite = await open_lesson(client, org, paired, pupil, robot_socket)
    pupil_ws, _ = await join_socket(client, ticket["token"])
    robot_ws, _ = await join_socket(client, invite["token"])
    await robot_ws.send_json(
        {
            "type": "event",
            "kind": "control",
            "control": "raise_hand",
            "detail": {"on": True},
            "id": "c1",
        }
    )
    await next_of(robot_ws, "ack")
    await pupil_ws.send_json({"type": "quality", "rtt_ms": 12.5, "fps": 29.7, "id": "q1"})
    await next_of(pupil_ws, "ack")
    await pupil_ws.send_json({"type": "quality", "rtt_ms": 13.0, "id": "q2"})
    assert (await next_of(pupil_ws, "error"))["code"] == "rate_limited"
    await pupil_ws.close()
    pupil_ws, _ = await join_socket(client, ticket["token"])  # a network blip
    await pupil_ws.close()
    await robot_ws.close()
    await asyncio.sleep(0.1)
    events = await (
        await client.get(
            f"/api/sessions/{ticket['session_id']}/events", headers=await login("hospital_staff")
        )
    ).json()
    timeline = [(e["participant"], e["kind"]) for e in events]
    assert timeline[:4] == [
        (None, "opened"),
        ("robot", "invited"),
        ("pupil", "joined"),
        ("robot", "joined"),
    ]
    assert events[1]["data"] == {"why": "pupil joined"}
    assert ("robot", "control") in timeline
    assert ("pupil", "reconnected") in timeline
    assert timeline.count(("pupil", "quality")) == 1
    assert ("pupil", "left") in timeline
    control = next(e for e in events if e["kind"] == "control")
    assert control["data"] == {"control": "raise_hand", "on": True}


async def test_the_pupil_ends_the_lesson_for_both(client, org, paired, pupil, robot_socket):
    _, ticket, invite = await open_lesson(client, org, paired, pupil, robot_socket)
    pupil_ws, _ = await join_socket(client, ticket["token"])
    robot_ws, _ = await join_socket(client, invite["token"])
    await pupil_ws.send_json({"type": "end", "id": "e1"})
    assert (await next_of(robot_ws, "ended"))["reason"] == "ended by pupil"
    await robot_ws.receive(timeout=2)
    assert robot_ws.close_code == 4410
    state = await (await client.get(f"/api/sessions/{ticket['session_id']}", headers=pupil)).json()
    assert state["status"] == "ended"
    late = await client.ws_connect("/ws/session")
    await late.send_json({"type": "join", "token": invite["token"]})
    assert (await late.receive_json(timeout=3))["code"] == "unauthorised"
    await pupil_ws.close()


async def test_sessions_end_when_the_window_closes(client, org, paired, pupil, robot_socket, clock):
    _, ticket, _ = await open_lesson(client, org, paired, pupil, robot_socket)
    pupil_ws, _ = await join_socket(client, ticket["token"])
    clock.advance(timedelta(hours=1))
    assert await end_finished_sessions(client.app[JOBS].context) == 1
    assert (await next_of(pupil_ws, "ended"))["reason"] == "lesson over"
    await pupil_ws.receive(timeout=2)
    assert pupil_ws.close_code == 4410
    async with client.app[DATABASE].sessions() as db:
        session = await db.scalar(select(LessonSession))
    assert session is not None
    assert (session.status, session.end_reason) == ("ended", "lesson over")


async def test_robots_are_invited_before_the_pupil_taps_join(
    client,
    org,
    paired,
    pupil,
    robot_socket,
):
    from telepresence.sessions.jobs import prepare_sessions

    robot_id, _ = paired
    await client.app[DEVICE_HUB].flush()  # the robot's socket made it online
    soon = await add_booking(client.app[DATABASE], org, robot_id)
    later = await add_booking(client.app[DATABASE], org, robot_id, starts_in=timedelta(hours=3))
    assert await prepare_sessions(client.app[JOBS].context) == 1
    invite = await next_of(robot_socket, "session_invite")
    robot_ws, joined = await join_socket(client, str(invite["token"]))
    assert joined["peer_present"] is False
    assert await prepare_sessions(client.app[JOBS].context) == 0  # once per lesson
    ticket = await (await client.post(f"/api/bookings/{soon}/join", headers=pupil)).json()
    assert ticket["session_id"] == invite["session_id"]
    with pytest.raises(TimeoutError):  # already there: no second invitation
        await next_of(robot_socket, "session_invite", timeout=0.3)
    pupil_ws, pupil_joined = await join_socket(client, ticket["token"])
    assert pupil_joined["peer_present"] is True
    await pupil_ws.send_json({"type": "offer", "sdp": SDP})
    assert (await next_of(robot_ws, "offer"))["sdp"] == SDP
    assert later
    for ws in (pupil_ws, robot_ws):
        await ws.close()
