"""The real device agent against the real server: pairs, reports, obeys, reconnects, stops."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from factories import add_device

from device_registry.socket import DEVICE_HUB
from telepresence.agent.client import AgentStopped, DeviceAgent
from telepresence.agent.hardware import SyntheticHardware
from telepresence.platform.http.context import DATABASE


async def pair_agent(client, org, login) -> tuple[str, DeviceAgent, SyntheticHardware]:
    device = await add_device(client.app[DATABASE], org)
    admin = await login("admin")
    code = await (await client.post(f"/api/devices/{device.id}/pairing-code", headers=admin)).json()
    credential = await DeviceAgent.pair(str(client.make_url("")).rstrip("/"), code["code"])
    hardware = SyntheticHardware()
    agent = DeviceAgent(
        credential, hardware, model="test robot", backoff_base=0.05, backoff_cap=0.2
    )
    return device.id, agent, hardware


@contextlib.asynccontextmanager
async def running(agent: DeviceAgent):
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        yield task
    finally:
        stop.set()
        with contextlib.suppress(AgentStopped):
            await asyncio.wait_for(task, 5)


async def test_agent_connects_reports_and_acknowledges_commands(client, org, login):
    device_id, agent, hardware = await pair_agent(client, org, login)
    async with running(agent):
        await asyncio.wait_for(agent.connected.wait(), 5)
        assert client.app[DEVICE_HUB].is_connected(device_id)
        admin = await login("admin")
        sent = await client.post(
            f"/api/devices/{device_id}/commands", json={"command": "identify"}, headers=admin
        )
        assert sent.status == 202
        for _ in range(100):
            if hardware.actions:
                break
            await asyncio.sleep(0.02)
        assert hardware.actions == ["identify"]
        await client.app[DEVICE_HUB].flush()
        shown = await (await client.get(f"/api/devices/{device_id}", headers=admin)).json()
        assert shown["online"] is True
        assert shown["battery_pct"] == 87


async def test_agent_reconnects_after_the_server_drops_it(client, org, login):
    device_id, agent, _ = await pair_agent(client, org, login)
    async with running(agent):
        await asyncio.wait_for(agent.connected.wait(), 5)
        await client.app[DEVICE_HUB].disconnect(device_id, 1011, "server restart")
        for _ in range(200):
            if agent.connections == 2 and agent.connected.is_set():
                break
            await asyncio.sleep(0.02)
        assert agent.connections == 2
        assert client.app[DEVICE_HUB].is_connected(device_id)


async def test_agent_stops_for_good_when_its_credential_is_revoked(client, org, login):
    device_id, agent, _ = await pair_agent(client, org, login)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    await asyncio.wait_for(agent.connected.wait(), 5)
    await client.post(f"/api/devices/{device_id}/credential/revoke", headers=await login("admin"))
    with pytest.raises(AgentStopped):
        await asyncio.wait_for(task, 5)


async def test_pairing_with_a_used_code_tells_why(client, org, login):
    device = await add_device(client.app[DATABASE], org)
    code = await (
        await client.post(f"/api/devices/{device.id}/pairing-code", headers=await login("admin"))
    ).json()
    server = str(client.make_url("")).rstrip("/")
    await DeviceAgent.pair(server, code["code"])
    with pytest.raises(AgentStopped, match="used already"):
        await DeviceAgent.pair(server, code["code"])
