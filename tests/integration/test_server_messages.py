"""Every message the server sends on either socket validates against the published schema.

Every ``send_json`` of the server's websockets is recorded while a lesson runs
through its paths (invitations, joins, offers and answers, refusals of each
kind, acks, ends, rejoin requests, commands) and each message is checked
against docs/schemas/ with a JSON Schema validator, not with the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp import web
from factories import PUPIL_PIN
from integration.session_helpers import HELLO, SDP, join_socket, next_of, open_lesson, settled

SCHEMAS = Path(__file__).parents[2] / "docs" / "schemas"
VALIDATORS = {
    "/ws/session": jsonschema.Draft202012Validator(
        json.loads((SCHEMAS / "session-server-to-client.json").read_text())
    ),
    "/ws/device": jsonschema.Draft202012Validator(
        json.loads((SCHEMAS / "server-to-device.json").read_text())
    ),
}


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    """Every JSON message the server's websockets send, with the socket's path."""
    recorded: list[tuple[str, dict[str, Any]]] = []
    original = web.WebSocketResponse.send_json

    async def recording(self, data, *args, **kwargs):
        recorded.append((self._req.path if self._req is not None else "?", data))
        return await original(self, data, *args, **kwargs)

    monkeypatch.setattr(web.WebSocketResponse, "send_json", recording)
    return recorded


@pytest.fixture
async def pupil(client, org) -> dict[str, str]:
    resp = await client.post(
        "/api/auth/pupil-login", json={"pupil_code": "SAMK42", "pin": PUPIL_PIN}
    )
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def test_every_message_the_server_sends_is_in_the_schema(
    client, org, paired, pupil, login, sent
):
    device_id, headers = paired
    robot_socket = await client.ws_connect("/ws/device", headers=headers)
    await robot_socket.send_json({"type": "heartbeat", "seq": 0})  # before hello: refused
    await robot_socket.send_json(HELLO)
    await next_of(robot_socket, "welcome")
    await settled(client)
    await client.post(
        f"/api/devices/{device_id}/commands",
        json={"command": "identify"},
        headers=await login("admin"),
    )
    await next_of(robot_socket, "command")
    _, ticket, invite = await open_lesson(client, org, paired, pupil, robot_socket)
    await robot_socket.send_json({"type": "session_rejoin", "session_id": ticket["session_id"]})
    await next_of(robot_socket, "session_invite")

    pupil_ws, _ = await join_socket(client, ticket["token"])
    await pupil_ws.send_json({"type": "offer", "sdp": SDP, "offer_id": "p1", "id": "o0"})
    await next_of(pupil_ws, "error")  # peer_absent
    robot_ws, _ = await join_socket(client, invite["token"])
    await next_of(pupil_ws, "peer_joined")
    await pupil_ws.send_json({"type": "offer", "sdp": SDP, "offer_id": "p2", "id": "o1"})
    await next_of(robot_ws, "offer")
    await robot_ws.send_json({"type": "answer", "sdp": SDP, "offer_id": "p1"})  # stale
    await next_of(robot_ws, "error")
    await robot_ws.send_json({"type": "answer", "sdp": SDP, "offer_id": "p2", "id": "a1"})
    await next_of(pupil_ws, "answer")
    await robot_ws.send_json({"type": "candidate", "candidate": "", "sdpMid": "0"})
    await next_of(pupil_ws, "candidate")
    await pupil_ws.send_json({"type": "teleport"})
    await next_of(pupil_ws, "error")
    await pupil_ws.send_json({"type": "quality", "fps": "fast"})
    await next_of(pupil_ws, "error")
    await robot_ws.send_json({"type": "join", "token": invite["token"], "id": "j2"})
    await next_of(robot_ws, "error")  # duplicate_join
    await robot_ws.close()
    await next_of(pupil_ws, "peer_left")
    await pupil_ws.send_json({"type": "end", "id": "e1"})
    await next_of(pupil_ws, "ended")
    await next_of(robot_socket, "session_end")
    await robot_socket.close()

    kinds = {(path, message.get("type")) for path, message in sent}
    assert len(kinds) == 14, kinds  # the paths above were really taken
    for path, message in sent:
        errors = [e.message for e in VALIDATORS[path].iter_errors(message)]
        assert not errors, (path, message, errors)
