"""Helpers for tests that speak the session socket by hand."""

from __future__ import annotations

from factories import add_booking

from device_registry.socket import DEVICE_HUB
from telepresence.platform.http.context import DATABASE
from telepresence.sessions.joining.invitations import RobotInvitations

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
HELLO = {"type": "hello", "protocol": [1], "model": "AV1", "software_version": "2.4.1"}


async def settled(client) -> None:
    """Wait until the invitations looked up at devices' hellos are out."""
    lessons = client.app[DEVICE_HUB].lessons
    assert isinstance(lessons, RobotInvitations)
    await lessons.settled()


async def join_socket(client, token: str):
    ws = await client.ws_connect("/ws/session")
    await ws.send_json({"type": "join", "token": token, "id": "j1"})
    joined = await ws.receive_json(timeout=5)
    assert joined["type"] == "joined", joined
    return ws, joined


async def drain(ws, kind: str, quiet: float) -> list[dict[str, object]]:
    """Every message of a kind until the socket has been quiet for ``quiet`` seconds."""
    got = []
    while True:
        try:
            got.append(await next_of(ws, kind, timeout=quiet))
        except TimeoutError:
            return got


async def next_of(ws, kind: str, timeout: float = 3) -> dict[str, object]:
    while True:
        msg = await ws.receive_json(timeout=timeout)
        if msg["type"] == kind:
            return msg


async def open_lesson(client, org, paired, pupil, robot_socket):
    robot_id, _ = paired
    booking_id = await add_booking(client.app[DATABASE], org, robot_id)
    resp = await client.post(f"/api/bookings/{booking_id}/join", headers=pupil)
    assert resp.status == 200, await resp.text()
    ticket = await resp.json()
    invite = await next_of(robot_socket, "session_invite")
    assert invite["session_id"] == ticket["session_id"]
    return booking_id, ticket, invite
