"""The device gateway beside the service, on PostgreSQL, with real sockets and the real agent.

The real agent connects to the gateway; the service is reached only through the
database and LISTEN/NOTIFY, as in production.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import shutil
import subprocess
import time

import aiohttp
import asyncpg
import pytest
from factories import OPERATOR_TOKEN, add_device
from integration.test_agent import pair_agent, running
from sqlalchemy import select

from device_registry.gateway.server import GATEWAY_HUB, create_gateway
from device_registry.links import CHANGES_TOPIC, fleet_topic
from device_registry.models import Device, DeviceCommandRecord
from device_registry.socket import DEVICE_HUB
from telepresence.agent.client import AgentStopped
from telepresence.app import create_app
from telepresence.platform.events.eventbridge import asyncpg_dsn
from telepresence.platform.http.context import DATABASE, EVENTS
from telepresence.platform.settings import Settings

HELLO = {"type": "hello", "protocol": [1], "model": "AV1", "software_version": "1.0"}


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """PostgreSQL only: the gateway needs LISTEN/NOTIFY."""

    async def truncate() -> None:
        conn = await asyncpg.connect(asyncpg_dsn(postgres_url))
        try:
            names = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
            tables = ", ".join(f'"{r["tablename"]}"' for r in names)
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    asyncio.run(truncate())
    return postgres_url


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The leader answers gateways (a robot's lessons): this instance leads.
    return settings.model_copy(update={"run_jobs": True})


@pytest.fixture
async def gateway(aiohttp_server, settings):
    return await aiohttp_server(create_gateway(settings))


def via(gateway, credential):
    """The agent's credential, pointed at the gateway (nginx routes /ws/device there)."""
    return dataclasses.replace(credential, server=str(gateway.make_url("")).rstrip("/"))


async def until(check, seconds: float = 5.0):
    for _ in range(int(seconds / 0.05)):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    return await check()


async def device_row(client, device_id: str) -> Device:
    async with client.app[DATABASE].sessions() as db:
        device = await db.get(Device, device_id, populate_existing=True)
    assert device is not None
    return device


async def agent_on(gateway, client, org, login):
    device_id, agent, hardware = await pair_agent(client, org, login)
    agent.credential = via(gateway, agent.credential)
    return device_id, agent, hardware


async def test_presence_and_telemetry_reach_the_service(client, org, login, gateway):
    device_id, agent, _ = await agent_on(gateway, client, org, login)
    events = client.app[EVENTS]
    async with (
        events.subscribe(fleet_topic(org.provider_id)) as fleet,
        events.subscribe(CHANGES_TOPIC) as changes,
        running(agent),
    ):
        await asyncio.wait_for(agent.connected.wait(), 5)
        assert gateway.app[GATEWAY_HUB].is_connected(device_id)
        assert not client.app[DEVICE_HUB].is_connected(device_id)  # not the service's socket
        online = await asyncio.wait_for(fleet.get(), 5)  # over NOTIFY
        assert online["device_id"] == device_id
        assert online["online"] is True
        change = await asyncio.wait_for(changes.get(), 5)  # written, then announced
        assert change == {"device_id": device_id, "battery_pct": 87, "charging": False}

        async def reported():
            device = await device_row(client, device_id)
            return device.online and device.battery_pct == 87 and device.software_version

        assert await until(reported)

    async def offline():
        return not (await device_row(client, device_id)).online

    assert await until(offline)


async def test_a_command_goes_through_the_gateway_and_its_ack_comes_back(
    client, org, login, gateway
):
    device_id, agent, hardware = await agent_on(gateway, client, org, login)
    admin = await login("admin")
    async with running(agent):
        await asyncio.wait_for(agent.connected.wait(), 5)

        async def online():
            return (await device_row(client, device_id)).online

        assert await until(online)
        async with client.app[EVENTS].subscribe(f"device:{device_id}") as acks:
            sent = await client.post(
                f"/api/devices/{device_id}/commands", json={"command": "identify"}, headers=admin
            )
            assert sent.status == 202, await sent.text()
            command_id = (await sent.json())["id"]
            ack = await asyncio.wait_for(acks.get(), 5)
        assert ack == {"command_id": command_id, "ok": True}
        assert hardware.actions == ["identify"]
        async with client.app[DATABASE].sessions() as db:
            record = await db.scalar(
                select(DeviceCommandRecord).where(DeviceCommandRecord.id == command_id)
            )
        assert record is not None
        assert record.status == "done"
        assert record.acked_at is not None


async def test_an_offline_device_takes_no_command(client, org, login, gateway):
    device = await add_device(client.app[DATABASE], org)
    sent = await client.post(
        f"/api/devices/{device.id}/commands",
        json={"command": "identify"},
        headers=await login("admin"),
    )
    assert sent.status == 409


async def test_revoking_the_credential_disconnects_the_device_within_the_bound(
    client, org, login, gateway
):
    device_id, agent, _ = await agent_on(gateway, client, org, login)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await asyncio.wait_for(agent.connected.wait(), 5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    revoked = await client.post(
        f"/api/devices/{device_id}/credential/revoke", headers=await login("admin")
    )
    assert revoked.status == 204
    with pytest.raises(AgentStopped):
        await asyncio.wait_for(task, 5)
    assert loop.time() - started < 2.0  # docs/security.md: within a second (+ the NOTIFY tick)
    assert not gateway.app[GATEWAY_HUB].is_connected(device_id)


async def test_the_service_closes_a_device_on_the_gateway_with_its_own_code(
    client, org, login, gateway
):
    device_id, agent, _ = await agent_on(gateway, client, org, login)
    token = agent.credential.credential
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            gateway.make_url("/ws/device"), headers={"Authorization": f"Bearer {token}"}
        ) as ws,
    ):
        await ws.send_json(HELLO)
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        await client.app[DEVICE_HUB].disconnect(device_id, 4403, "device retired")
        closing = await ws.receive(timeout=5)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4403


async def test_a_robots_rejoin_is_answered_by_the_service(client, org, login, gateway):
    _, agent, _ = await agent_on(gateway, client, org, login)
    token = agent.credential.credential
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            gateway.make_url("/ws/device"), headers={"Authorization": f"Bearer {token}"}
        ) as ws,
    ):
        await ws.send_json(HELLO)
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"

        async def leading():
            return client.app[DEVICE_HUB].answers_gateways()

        assert await until(leading)
        await ws.send_json({"type": "session_rejoin", "session_id": "not-a-session"})
        answer = await ws.receive_json(timeout=5)
    assert answer == {
        "type": "session_end",
        "session_id": "not-a-session",
        "reason": "not your session",
    }


async def test_the_gateway_restarting_sends_devices_back_to_it(
    aiohttp_server, client, org, login, gateway, settings
):
    device_id, agent, _ = await agent_on(gateway, client, org, login)
    async with running(agent):
        await asyncio.wait_for(agent.connected.wait(), 5)
        port = gateway.port
        await gateway.close()  # devices are told 1001 and the last state is written

        async def offline():
            return not (await device_row(client, device_id)).online

        assert await until(offline)
        again = await aiohttp_server(create_gateway(settings), port=port)

        async def back():
            return again.app[GATEWAY_HUB].is_connected(device_id) and agent.connected.is_set()

        assert await until(back, 10)
        assert agent.connections == 2

        async def online():
            return (await device_row(client, device_id)).online

        assert await until(online)


async def test_the_service_restarting_leaves_devices_connected(
    aiohttp_client, client, org, login, gateway, settings
):
    device_id, agent, hardware = await agent_on(gateway, client, org, login)
    async with running(agent):
        await asyncio.wait_for(agent.connected.wait(), 5)

        async def online():
            return (await device_row(client, device_id)).online

        assert await until(online)
        await client.close()
        service = await aiohttp_client(create_app(settings))
        admin = await login_on(service, org)
        sent = await service.post(
            f"/api/devices/{device_id}/commands", json={"command": "identify"}, headers=admin
        )
        assert sent.status == 202, await sent.text()

        async def obeyed():
            return hardware.actions == ["identify"]

        assert await until(obeyed)
        assert agent.connections == 1


async def login_on(service, org) -> dict[str, str]:
    from factories import PASSWORD

    resp = await service.post(
        "/api/auth/login", json={"email": org.email("admin"), "password": PASSWORD}
    )
    assert resp.status == 200
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def _conversation(url, token: str) -> list[str]:
    """What a server answers to the same frames, as sent (the welcome's clock blanked)."""
    said: list[str] = []
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, headers={"Authorization": f"Bearer {token}"}) as ws,
    ):
        for frame in (
            "not json",
            json.dumps({"type": "heartbeat", "seq": 1}),
            json.dumps({"type": "launch"}),
            json.dumps(HELLO),
            json.dumps({"type": "heartbeat", "seq": -1}),
            json.dumps(HELLO),
            json.dumps({"type": "ack", "command_id": "nope", "ok": True}),
            "x" * 20_000,
        ):
            await ws.send_str(frame)
            text = (await ws.receive(timeout=5)).data
            said.append(re.sub(r'"server_time": ?"[^"]+"', '"server_time": ""', text))
    return said


async def test_the_gateway_speaks_the_protocol_as_the_service_does(client, org, login, gateway):
    device_id, agent, _ = await agent_on(gateway, client, org, login)
    token = agent.credential.credential
    from_service = await _conversation(client.make_url("/ws/device"), token)
    from_gateway = await _conversation(gateway.make_url("/ws/device"), token)
    assert from_gateway == from_service  # byte for byte
    welcome = json.loads(from_service[3])
    assert welcome["type"] == "welcome"
    assert welcome["device_id"] == device_id
    assert [json.loads(t).get("code") for t in from_service] == [
        "invalid_message",
        "hello_first",
        "unknown_type",
        None,
        "invalid_message",
        "duplicate_hello",
        "unknown_command",
        "too_large",
    ]


async def test_the_gateway_refuses_what_the_service_refuses(client, gateway):
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer cbd_" + "x" * 40}):
            for server in (client, gateway):
                async with http.get(server.make_url("/ws/device"), headers=headers) as resp:
                    assert resp.status == 401
                    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="classbridge"'
                    body = await resp.json(content_type=None)
                    assert body["detail"] == "Sign in first: this needs a valid session or token."
        async with http.get(
            gateway.make_url("/ws/device"), headers={"Origin": "https://evil.example"}
        ) as resp:
            assert resp.status == 403


async def test_a_gateway_on_sqlite_is_refused(tmp_path):
    with pytest.raises(ValueError, match="PostgreSQL"):
        create_gateway(Settings(_env_file=None, data_dir=tmp_path))


async def test_the_gateway_drops_a_silent_device_as_the_service_does(client, org, login, gateway):
    device_id, agent, _ = await agent_on(gateway, client, org, login)
    hub = gateway.app[GATEWAY_HUB]
    assert hub.keepalive == 20.0  # heartbeat (15 s) + 5
    token = agent.credential.credential
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            gateway.make_url("/ws/device"),
            headers={"Authorization": f"Bearer {token}"},
            autoping=False,  # a device that answers nothing
        ) as ws,
    ):
        await ws.send_json(HELLO)
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        start = time.monotonic()
        await hub.sweep(start + 21)
        assert (await ws.receive(timeout=2)).type is aiohttp.WSMsgType.PING
        await hub.sweep(start + 31)
        closed = await ws.receive(timeout=2)
        assert closed.type in {aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR}
    assert not hub.is_connected(device_id)

    async def offline():
        return not (await device_row(client, device_id)).online

    assert await until(offline)


def _samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


async def test_the_gateway_shows_prometheus_its_sockets_and_bridge(
    client, org, login, gateway, aiohttp_server, settings
):
    address = gateway.make_url("/metrics")
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    _device, agent, _ = await agent_on(gateway, client, org, login)
    async with aiohttp.ClientSession() as http:
        async with http.get(address) as resp:
            assert resp.status == 401
            assert resp.content_type == "application/problem+json"
        async with http.get(address, headers={"Authorization": "Bearer wrong"}) as resp:
            assert resp.status == 401
        async with running(agent):
            await asyncio.wait_for(agent.connected.wait(), 5)
            async with http.get(address, headers=operator) as resp:
                assert resp.status == 200
                text = await resp.text()
        off = await aiohttp_server(
            create_gateway(settings.model_copy(update={"metrics_token": None}))
        )
        async with http.get(off.make_url("/metrics"), headers=operator) as resp:
            assert resp.status == 404
    figures = _samples(text)
    assert figures["classbridge_gateway_device_sockets"] == 1
    assert figures["classbridge_event_bridge_connected"] == 1
    assert figures["process_resident_memory_bytes"] > 10e6
    assert figures["process_cpu_seconds_total"] > 0
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is required (make prometheus)"
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout.strip() == "", lint.stdout


async def test_heartbeats_cross_to_a_fleet_page_only_while_one_is_open(client, org, login, gateway):
    """A heartbeat's fleet update crosses the bridge only while a page on the service
    wants it (each one else would be a NOTIFY that nobody reads)."""
    device_id, agent, _ = await agent_on(gateway, client, org, login)
    token = agent.credential.credential
    topic = fleet_topic(org.provider_id)
    at_gateway = gateway.app[GATEWAY_HUB].events
    beat = {"type": "heartbeat", "seq": 1, "battery_pct": 41, "network_type": "wifi"}

    async def wanted() -> bool:
        return at_gateway.wanted(topic)

    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            gateway.make_url("/ws/device"), headers={"Authorization": f"Bearer {token}"}
        ) as ws,
    ):
        await ws.send_json(HELLO)
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        assert not await wanted()  # no fleet page open anywhere
        async with client.app[EVENTS].subscribe(topic) as page:  # one opens on the service
            assert await until(wanted)
            await ws.send_json(beat)
            update = await asyncio.wait_for(page.get(), 5)
            while "battery_pct" not in update:  # the device's online event came first
                update = await asyncio.wait_for(page.get(), 5)
            assert (update["device_id"], update["battery_pct"]) == (device_id, 41)

        async def closed() -> bool:
            return not at_gateway.wanted(topic)

        assert await until(closed)  # the page closed: said at once
        forwarded: list[str] = []
        forward = at_gateway.forward
        assert forward is not None

        def noting(topic: str, event: dict[str, object]) -> None:
            forwarded.append(topic)
            forward(topic, event)

        at_gateway.forward = noting
        await ws.send_json(beat | {"seq": 2, "battery_pct": 29})  # another band: a change

        async def handled() -> bool:
            return CHANGES_TOPIC in forwarded  # written, then told (the rota acts on it)

        assert await until(handled)
        assert topic not in forwarded
