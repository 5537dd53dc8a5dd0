"""The device websocket: hello, telemetry, commands, bad messages, revocation."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select

import device_registry.conversation
from device_registry.hub import fleet_topic
from device_registry.jobs import mark_silent_devices_offline
from device_registry.models import Device, DeviceCommandRecord, TelemetrySample
from device_registry.socket import DEVICE_HUB
from telepresence.app import create_app
from telepresence.platform.http.context import DATABASE, EVENTS, JOBS

HELLO = {
    "type": "hello",
    "protocol": [1],
    "model": "AV1",
    "software_version": "2.4.1",
    "capabilities": ["camera", "lights"],
}
BEAT = {
    "type": "heartbeat",
    "seq": 1,
    "battery_pct": 64,
    "charging": False,
    "signal_dbm": -61,
    "network_type": "wifi",
    "room": "S12",
}


async def connect(client, headers):
    ws = await client.ws_connect("/ws/device", headers=headers)
    await ws.send_json(HELLO)
    welcome = await ws.receive_json(timeout=5)
    assert welcome["type"] == "welcome"
    return ws, welcome


async def test_hello_heartbeat_and_telemetry_reach_the_database(client, org, paired):
    device_id, headers = paired
    async with client.app[EVENTS].subscribe(fleet_topic(org.provider_id)) as events:
        ws, welcome = await connect(client, headers)
        assert welcome["device_id"] == device_id
        assert welcome["protocol"] == 1
        assert (await asyncio.wait_for(events.get(), 2))["online"] is True
        await ws.send_json(BEAT)
        update = await asyncio.wait_for(events.get(), 2)
        assert update["battery_pct"] == 64
    await client.app[DEVICE_HUB].flush()
    async with client.app[DATABASE].sessions() as session:
        device = await session.get(Device, device_id)
        samples = list(await session.scalars(select(TelemetrySample)))
    assert device is not None
    assert (device.online, device.battery_pct, device.reported_room) == (True, 64, "S12")
    assert device.software_version == "2.4.1"
    assert [(s.battery_pct, s.signal_dbm) for s in samples] == [(64, -61)]
    await ws.close()
    await client.app[DEVICE_HUB].flush()
    async with client.app[DATABASE].sessions() as session:
        device = await session.get(Device, device_id)
    assert device is not None
    assert device.online is False


async def test_bad_messages_get_errors_and_the_socket_stays_up(client, paired):
    _, headers = paired
    ws = await client.ws_connect("/ws/device", headers=headers)
    await ws.send_json(BEAT)
    assert (await ws.receive_json(timeout=5))["code"] == "hello_first"
    await ws.send_json(HELLO)
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    cases = [
        ("{not json", "invalid_message"),
        (json.dumps({"type": "teleport"}), "unknown_type"),
        (json.dumps(BEAT | {"battery_pct": 140}), "invalid_message"),
        (json.dumps(BEAT | {"extra": 1}), "invalid_message"),
        (json.dumps(BEAT | {"room": "x" * 20_000}), "too_large"),
        (json.dumps(HELLO), "duplicate_hello"),
        (json.dumps({"type": "ack", "command_id": "nope", "ok": True}), "unknown_command"),
    ]
    for raw, code in cases:
        await ws.send_str(raw)
        reply = await ws.receive_json(timeout=5)
        assert reply["type"] == "error"
        assert reply["code"] == code, raw[:40]
        await asyncio.sleep(0.25)  # stay inside the message budget
    await ws.send_json(BEAT)
    await ws.close()
    assert ws.close_code == 1000


async def test_flooding_is_rate_limited_without_closing(client, paired):
    _, headers = paired
    ws, _ = await connect(client, headers)
    for seq in range(30):
        await ws.send_json(BEAT | {"seq": seq})
    reply = await ws.receive_json(timeout=5)
    assert reply["code"] == "rate_limited"
    assert not ws.closed
    await ws.close()


async def test_no_or_bad_credential_is_refused_before_upgrade(client, org, login):
    with pytest.raises(aiohttp.WSServerHandshakeError) as anonymous:
        await client.ws_connect("/ws/device")
    assert anonymous.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as person:
        await client.ws_connect("/ws/device", headers=await login("admin"))
    assert person.value.status == 403


async def test_wrong_origin_is_refused(client, paired):
    _, headers = paired
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/device", headers=headers | {"Origin": "https://evil.example"})
    assert refused.value.status == 403


async def test_revoking_the_credential_closes_the_socket_at_once(client, login, paired):
    device_id, headers = paired
    ws, _ = await connect(client, headers)
    resp = await client.post(
        f"/api/devices/{device_id}/credential/revoke", headers=await login("admin")
    )
    assert resp.status == 204
    msg = await ws.receive(timeout=1)
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4401
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/ws/device", headers=headers)


async def test_retiring_closes_the_socket_with_its_own_code(client, login, paired):
    device_id, headers = paired
    ws, _ = await connect(client, headers)
    await client.patch(
        f"/api/devices/{device_id}", json={"lifecycle": "retired"}, headers=await login("admin")
    )
    await ws.receive(timeout=1)
    assert ws.close_code == 4403


async def test_revocation_on_another_instance_closes_the_socket_within_a_second(
    aiohttp_client,
    client,
    settings,
    clock,
    login,
    paired,
):
    device_id, headers = paired
    ws, _ = await connect(client, headers)
    other = await aiohttp_client(create_app(settings, clock=clock))
    resp = await other.post(
        f"/api/devices/{device_id}/credential/revoke", headers=await login("admin")
    )
    assert resp.status == 204
    msg = await ws.receive(timeout=2.5)
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4401


async def test_commands_are_sent_and_acknowledged(client, login, paired):
    device_id, headers = paired
    ws, _ = await connect(client, headers)
    admin = await login("admin")
    resp = await client.post(
        f"/api/devices/{device_id}/commands", json={"command": "identify"}, headers=admin
    )
    assert resp.status == 202
    sent = await resp.json()
    command = await ws.receive_json(timeout=2)
    assert command == {
        "type": "command",
        "command_id": sent["id"],
        "command": "identify",
        "args": {},
    }
    await ws.send_json(
        {"type": "ack", "command_id": sent["id"], "ok": True, "detail": "lights blinked"}
    )
    for _ in range(50):
        listed = await (
            await client.get(f"/api/devices/{device_id}/commands", headers=admin)
        ).json()
        if listed[0]["status"] != "sent":
            break
        await asyncio.sleep(0.02)
    assert listed[0]["status"] == "done"
    assert listed[0]["detail"] == "lights blinked"
    await ws.close()
    offline = await client.post(
        f"/api/devices/{device_id}/commands", json={"command": "restart"}, headers=admin
    )
    assert offline.status == 409
    async with client.app[DATABASE].sessions() as session:
        count = len(list(await session.scalars(select(DeviceCommandRecord))))
    assert count == 1


async def test_coordinator_may_send_commands_but_hospital_staff_may_not(client, login, paired):
    device_id, headers = paired
    ws, _ = await connect(client, headers)
    staff = await client.post(
        f"/api/devices/{device_id}/commands",
        json={"command": "identify"},
        headers=await login("hospital_staff"),
    )
    assert staff.status == 403
    coordinator = await client.post(
        f"/api/devices/{device_id}/commands",
        json={"command": "identify"},
        headers=await login("coordinator"),
    )
    assert coordinator.status == 202
    await ws.close()


async def test_a_second_connection_replaces_the_first(client, paired):
    _, headers = paired
    first, _ = await connect(client, headers)
    second, _ = await connect(client, headers)
    await first.receive(timeout=1)
    assert first.close_code == 4409
    assert not second.closed
    await second.close()


async def test_no_hello_in_time_closes_the_socket(client, paired, monkeypatch):
    monkeypatch.setattr(device_registry.conversation, "HELLO_TIMEOUT_S", 0.3)
    _, headers = paired
    ws = await client.ws_connect("/ws/device", headers=headers)
    await ws.receive(timeout=2)
    assert ws.close_code == 4408


async def test_unsupported_protocol_version_closes_with_4426(client, paired):
    _, headers = paired
    ws = await client.ws_connect("/ws/device", headers=headers)
    await ws.send_json(HELLO | {"protocol": [7]})
    assert (await ws.receive_json(timeout=2))["type"] == "error"
    await ws.receive(timeout=2)
    assert ws.close_code == 4426


async def test_silent_devices_go_offline(client, clock, paired):
    device_id, headers = paired
    ws, _ = await connect(client, headers)
    await ws.send_json(BEAT)
    await asyncio.sleep(0.05)
    await client.app[DEVICE_HUB].flush()
    context = client.app[JOBS].context
    assert await mark_silent_devices_offline(context) == 0
    clock.advance(timedelta(seconds=46))
    assert await mark_silent_devices_offline(context) == 1
    async with client.app[DATABASE].sessions() as session:
        device = await session.get(Device, device_id)
    assert device is not None
    assert device.online is False
    await ws.close()


async def test_fleet_updates_reach_viewers_on_another_instance(
    aiohttp_client,
    client,
    settings,
    clock,
    org,
    paired,
):
    _, headers = paired
    other = await aiohttp_client(create_app(settings, clock=clock))
    async with other.app[EVENTS].subscribe(fleet_topic(org.provider_id)) as events:
        ws, _ = await connect(client, headers)
        if client.app[DATABASE].dialect == "sqlite":
            # One process per SQLite file: nothing to cross, and nothing is.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(events.get(), 0.5)
        else:
            event = await asyncio.wait_for(events.get(), 2)
            assert event["online"] is True
        await ws.close()


async def test_pairing_again_keeps_the_socket_of_the_new_credential(client, login, paired):
    # Pairing again revokes the old credential; the revocation sweep must close only
    # sockets opened before it, not the one the re-paired device opened with its new one.
    device_id, old_headers = paired
    old_ws, _ = await connect(client, old_headers)
    admin = await login("admin")
    code = await (await client.post(f"/api/devices/{device_id}/pairing-code", headers=admin)).json()
    pair = await (await client.post("/api/devices/pair", json={"code": code["code"]})).json()
    await old_ws.receive(timeout=2.5)  # the sweep closes the socket of the old credential
    assert old_ws.close_code == 4401
    new_ws, _ = await connect(client, {"Authorization": f"Bearer {pair['credential']}"})
    await client.app[DEVICE_HUB].flush()
    await client.app[DEVICE_HUB].flush()
    with pytest.raises(TimeoutError):
        await new_ws.receive(timeout=1.5)
    assert not new_ws.closed
    await new_ws.close()


async def test_a_reconnected_device_in_the_room_it_was_in_is_no_news_for_the_rota(client, paired):
    """The first room a socket reports is compared with the stored one, at the flush."""
    from device_registry.hub import CHANGES_TOPIC

    _, headers = paired
    hub = client.app[DEVICE_HUB]
    async with client.app[EVENTS].subscribe(CHANGES_TOPIC) as changes:
        ws, _ = await connect(client, headers)
        await ws.send_json(BEAT)  # S12, never reported before: news
        await asyncio.sleep(0.2)
        await hub.flush()
        assert changes.get_nowait()["reported_room"] == "S12"
        await ws.close()
        ws, _ = await connect(client, headers)  # back, still in S12: nothing to tell
        await ws.send_json(BEAT)
        await asyncio.sleep(0.2)
        await hub.flush()
        assert [c for c in _drain(changes) if "reported_room" in c] == []
        await ws.send_json(BEAT | {"seq": 2, "room": "Lab 3"})  # moved while connected
        news = await asyncio.wait_for(changes.get(), 2)
        assert news["reported_room"] == "Lab 3"
        await ws.close()
        await hub.flush()
        ws, _ = await connect(client, headers)  # back in S12: it moved while away
        await ws.send_json(BEAT)
        await asyncio.sleep(0.2)
        await hub.flush()
        assert [c["reported_room"] for c in _drain(changes) if "reported_room" in c] == ["S12"]
        await ws.close()


def _drain(queue: asyncio.Queue[dict[str, object]]) -> list[dict[str, object]]:
    found = []
    while not queue.empty():
        found.append(queue.get_nowait())
    return found


async def test_a_silent_device_is_pinged_then_dropped_and_goes_offline(client, org, paired):
    device_id, headers = paired
    hub = client.app[DEVICE_HUB]
    assert hub.keepalive == 20.0  # heartbeat (15 s) + 5, the bound aiohttp's heartbeat= had
    ws = await client.ws_connect("/ws/device", headers=headers, autoping=False)
    await ws.send_json(HELLO)
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    start = time.monotonic()
    await hub.sweep(start + 19)
    await hub.sweep(start + 21)
    assert (await ws.receive(timeout=2)).type is aiohttp.WSMsgType.PING
    async with client.app[EVENTS].subscribe(fleet_topic(org.provider_id)) as events:
        await hub.sweep(start + 25)  # pinged, not answered yet: stays
        assert hub.is_connected(device_id)
        await hub.sweep(start + 31)  # no pong 10 s after the ping: dropped
        closed = await ws.receive(timeout=2)
        assert closed.type in {aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR}
        assert (await asyncio.wait_for(events.get(), 2))["online"] is False
    assert not hub.is_connected(device_id)


async def test_a_device_answering_the_ping_stays(client, paired):
    device_id, headers = paired
    hub = client.app[DEVICE_HUB]
    ws, _ = await connect(client, headers)  # answers pings (aiohttp's autoping)
    start = time.monotonic()
    await hub.sweep(start + 21)
    with pytest.raises(TimeoutError):
        await ws.receive(timeout=0.3)  # the ping is answered while waiting
    await hub.sweep(start + 31)
    assert hub.is_connected(device_id)
    assert not ws.closed
    await ws.close()


async def test_a_reading_that_changes_nothing_that_counts_waits_for_the_refresh(client, paired):
    device_id, headers = paired
    hub = client.app[DEVICE_HUB]
    assert hub.refresh_every == 15.0  # (15 s * (3 - 1)) / 2: every second heartbeat

    async def stored() -> tuple[int | None, int | None, bool | None]:
        await hub.flush()
        async with client.app[DATABASE].sessions() as session:
            device = await session.get(Device, device_id, populate_existing=True)
        assert device is not None
        return device.battery_pct, device.signal_dbm, device.online

    ws, _ = await connect(client, headers)
    await ws.send_json(BEAT)
    await asyncio.sleep(0.05)
    assert await stored() == (64, -61, True)
    await ws.send_json(BEAT | {"battery_pct": 61, "signal_dbm": -70})  # same band: held
    await asyncio.sleep(0.05)
    assert await stored() == (64, -61, True)
    await ws.send_json(BEAT | {"battery_pct": 59})  # another band: at once
    await asyncio.sleep(0.05)
    assert await stored() == (59, -61, True)
    hub.refresh_every = 0.0  # the refresh is due: an unchanged reading is written
    await ws.send_json(BEAT | {"battery_pct": 58, "signal_dbm": -50})
    await asyncio.sleep(0.05)
    assert await stored() == (58, -50, True)
    hub.refresh_every = 15.0
    await ws.send_json(BEAT | {"battery_pct": 57})  # held, then written when it leaves
    await asyncio.sleep(0.05)
    assert await stored() == (58, -50, True)
    await ws.close()
    await asyncio.sleep(0.05)
    assert await stored() == (57, -61, False)
