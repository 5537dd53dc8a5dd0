"""Errors that escaped: each bad input gets a clear 4xx and changes nothing; a client that
goes away is an expected event (one info line), never a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import unicodedata
from typing import Any

import aiohttp
import pytest
import structlog
from factories import add_device

from telepresence.platform.http.context import DATABASE

# An offer with media but no ICE credentials (no a=ice-ufrag / a=ice-pwd).
NO_ICE_SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
    "a=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"
    "a=fingerprint:sha-256 "
    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99\r\n"
    "a=setup:actpass\r\n"
)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.events: list[Any] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(f"{r.levelname} {r.getMessage()} {r.exc_info!r}" for r in self.records)


@pytest.fixture
def server_log():
    """Both what structlog says (as events) and what the standard library logs."""
    handler = Records()
    root = logging.getLogger()
    root.addHandler(handler)
    with structlog.testing.capture_logs() as events:
        handler.events = events
        yield handler
    root.removeHandler(handler)


async def test_a_room_name_differing_only_in_non_ascii_case_is_a_409(client, org, login):
    admin = await login("admin")
    url = f"/api/schools/{org.school_id}/rooms"
    first = await client.post(url, headers=admin, json={"name": "Éclair 1"})
    assert first.status == 201
    for twin in ("éclair 1", "ÉCLAIR 1", unicodedata.normalize("NFD", "Éclair 1")):
        resp = await client.post(url, headers=admin, json={"name": twin})
        assert resp.status == 409, (twin, await resp.text())
        assert (await resp.json())["errors"][0]["field"] == "name"
    rooms = await (await client.get(url, headers=admin)).json()
    assert sorted(r["name"] for r in rooms) == ["Lab 3", "S12", "Éclair 1"]


async def test_a_null_lifecycle_is_a_422_and_changes_nothing(client, org, login):
    device = await add_device(client.app[DATABASE], org)
    admin = await login("admin")
    resp = await client.patch(
        f"/api/devices/{device.id}", headers=admin, json={"lifecycle": None, "name": "Renamed"}
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "lifecycle"
    shown = await (await client.get(f"/api/devices/{device.id}", headers=admin)).json()
    assert (shown["lifecycle"], shown["name"]) == ("active", "Robbie")


async def test_a_readiness_offer_without_ice_credentials_is_a_422(client, org, paired):
    _, device = paired
    check = await client.post("/api/readiness", headers=device, json={"room": "S12"})
    assert check.status == 201, await check.text()
    check_id = (await check.json())["check_id"]
    resp = await client.post(
        f"/api/readiness/{check_id}/offer", headers=device, json={"sdp": NO_ICE_SDP}
    )
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["errors"][0]["field"] == "sdp"


async def test_a_client_going_away_mid_stream_is_one_info_line(aiohttp_client, server_log):
    """The finding: 'Cannot write to closing transport' on /rota/events, /devices/events and
    /ws/device when a client went away was logged as an unhandled error with a traceback.

    The same middleware serves every route, so a stream whose client is gone is enough."""
    from aiohttp import web

    from telepresence.platform.errors import error_middleware

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        assert request.transport is not None
        request.transport.close()  # what the server sees when the browser tab is closed
        await response.write(b"event: device\r\ndata: {}\r\n\r\n")
        return response

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/events", stream)
    client = await aiohttp_client(app)
    with contextlib.suppress(aiohttp.ClientError):
        await (await client.get("/events")).read()
    await asyncio.sleep(0.1)
    events = [e["event"] for e in server_log.events]
    assert events == ["client_went_away"]
    assert server_log.events[0]["log_level"] == "info"
    assert not [r for r in server_log.records if r.levelno >= logging.ERROR]


async def test_a_server_side_connection_reset_is_still_an_error(aiohttp_client, server_log):
    """Only the client's own connection going away is expected; any other reset is a fault."""
    from aiohttp import web

    from telepresence.platform.errors import error_middleware

    async def broken(_request: web.Request) -> web.StreamResponse:
        raise ConnectionResetError("the database connection was reset")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/broken", broken)
    client = await aiohttp_client(app)
    assert (await client.get("/broken")).status == 500
    assert [e["event"] for e in server_log.events] == ["unhandled_error"]


async def test_a_device_cannot_start_readiness_checks_without_end(client, org, paired):
    """The finding: one device created 1,181 checks in two minutes."""
    from telepresence.sessions.joining.readiness import CHECKS_PER_HOUR

    _, device = paired
    statuses = [
        (await client.post("/api/readiness", headers=device, json={"room": "S12"})).status
        for _ in range(CHECKS_PER_HOUR + 2)
    ]
    assert statuses == [201] * CHECKS_PER_HOUR + [429, 429]
    refused = await client.post("/api/readiness", headers=device, json={"room": "S12"})
    assert int(refused.headers["Retry-After"]) > 0
