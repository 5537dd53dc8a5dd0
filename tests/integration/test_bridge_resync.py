"""What was sent while a process's LISTEN was down is made good after it reconnects.

NOTIFY keeps nothing for a listener that is gone, so each test opens a gap in one
process's event bridge (its backend ended with ``pg_terminate_backend``, and kept
out for as long as the test needs by pointing the bridge at a closed port), sends
across the gap, lets the bridge back in and checks what arrived. Real PostgreSQL,
the real service, the real gateway and the real agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from factories import OPERATOR_TOKEN
from integration.test_agent import pair_agent, running
from sqlalchemy import select

from device_registry.gateway.server import GATEWAY_BRIDGE, GATEWAY_HUB, create_gateway
from device_registry.links import CHANGES_TOPIC, fleet_topic
from device_registry.models import Device, DeviceCommandRecord
from device_registry.socket import DEVICE_HUB
from telepresence.platform.events.eventbridge import (
    RESYNC_TOPIC,
    PostgresEventBridge,
    asyncpg_dsn,
)
from telepresence.platform.events.events import EventHub
from telepresence.platform.http.context import DATABASE, EVENT_BRIDGE, EVENTS
from telepresence.platform.settings import Settings

HELLO = {"type": "hello", "protocol": [1], "model": "AV1", "software_version": "1.0"}
NOWHERE = "postgresql://postgres@127.0.0.1:1/nowhere"  # refused at once


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """PostgreSQL only (LISTEN/NOTIFY), emptied for each test."""

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
    return settings.model_copy(update={"run_jobs": True})


@pytest.fixture
async def gateway(aiohttp_server, settings):
    return await aiohttp_server(create_gateway(settings))


@contextlib.asynccontextmanager
async def gap(bridge: PostgresEventBridge) -> AsyncIterator[None]:
    """The bridge's LISTEN connection ended and kept down until the block ends."""
    dsn, bridge.dsn = bridge.dsn, NOWHERE
    pid = bridge._conn.get_server_pid()
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()
    async with asyncio.timeout(5):
        while bridge.connected:
            await asyncio.sleep(0.01)
    try:
        yield
    finally:
        bridge.dsn = dsn


async def until(check: Any, seconds: float = 8.0) -> Any:
    async with asyncio.timeout(seconds):
        while not (result := await check()):
            await asyncio.sleep(0.05)
    return result


async def test_a_command_sent_while_the_gateway_is_not_listening_arrives_once(
    client, org, login, gateway
):
    device_id, agent, hardware = await pair_agent(client, org, login)
    agent.credential = dataclasses.replace(
        agent.credential, server=str(gateway.make_url("")).rstrip("/")
    )
    admin = await login("admin")
    bridge = gateway.app[GATEWAY_BRIDGE]
    async with running(agent):
        await asyncio.wait_for(agent.connected.wait(), 5)

        async def online() -> bool:
            async with client.app[DATABASE].sessions() as db:
                device = await db.get(Device, device_id, populate_existing=True)
                return bool(device and device.online)

        await until(online)
        async with gap(bridge):
            sent = await client.post(
                f"/api/devices/{device_id}/commands", json={"command": "identify"}, headers=admin
            )
            assert sent.status == 202, await sent.text()
            command_id = (await sent.json())["id"]
            await asyncio.sleep(0.6)  # its NOTIFY has gone by; the gateway heard nothing
            assert hardware.actions == []

        async def obeyed() -> bool:
            return hardware.actions == ["identify"]

        await until(obeyed)

        async def acknowledged() -> bool:
            async with client.app[DATABASE].sessions() as db:
                record = await db.scalar(
                    select(DeviceCommandRecord).where(DeviceCommandRecord.id == command_id)
                )
            return record is not None and record.status == "done"

        await until(acknowledged)
        # Once: a later resync (another reconnect) does not hand it over again.
        async with gap(bridge):
            pass
        await until(lambda: _true(bridge.connected))
        await asyncio.sleep(1.0)
        assert hardware.actions == ["identify"]
        assert gateway.app[GATEWAY_HUB].resync.redelivered == 1
    # Operators see it: the gateway reconnected twice and handed one command over.
    async with aiohttp.ClientSession() as http:
        metrics = gateway.make_url("/metrics")
        async with http.get(metrics, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}) as r:
            text = await r.text()
    assert "classbridge_event_bridge_reconnects_total 2" in text
    assert "classbridge_device_commands_redelivered_total 1" in text
    service = await client.get("/metrics", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    text = await service.text()
    assert "classbridge_event_bridge_reconnects_total 0.0" in text
    assert "classbridge_device_commands_redelivered_total 0.0" in text


async def _true(value: bool) -> bool:
    return value


async def test_presence_announced_while_the_service_is_not_listening_reaches_it(
    client, org, login, gateway
):
    device_id, agent, _ = await pair_agent(client, org, login)
    token = agent.credential.credential
    bridge = client.app[EVENT_BRIDGE]
    fleet = fleet_topic(org.provider_id)
    async with (
        client.app[EVENTS].subscribe(fleet) as at_service,
        aiohttp.ClientSession() as http,
    ):
        async with gap(bridge):
            ws = await http.ws_connect(
                gateway.make_url("/ws/device"), headers={"Authorization": f"Bearer {token}"}
            )
            await ws.send_json(HELLO)  # and no heartbeat, which would announce it again
            assert (await ws.receive_json(timeout=5))["type"] == "welcome"
            await asyncio.sleep(0.3)  # the gateway's NOTIFY of it has gone by
            assert at_service.empty()
        # Back: the service asks, the gateway re-announces what it holds.
        event = await asyncio.wait_for(at_service.get(), 8)
        assert event["device_id"] == device_id
        assert event["online"] is True

        # And a device that left while the service was away is told offline from the
        # database (nobody holds it to re-announce it).
        async with gap(bridge):
            await ws.close()

            async def gone() -> bool:
                return not gateway.app[GATEWAY_HUB].is_connected(device_id)

            await until(gone)
            await asyncio.sleep(1.5)  # its offline row is written; the NOTIFY is lost
            while not at_service.empty():  # anything from before the gap
                at_service.get_nowait()
        event = await asyncio.wait_for(at_service.get(), 8)
        assert event == {
            "device_id": device_id,
            "online": False,
            "last_seen_at": event["last_seen_at"],
        }
    assert not client.app[DEVICE_HUB].is_connected(device_id)


async def test_a_battery_change_missed_by_the_service_is_announced_again(
    client, org, login, gateway
):
    device_id, agent, _ = await pair_agent(client, org, login)
    token = agent.credential.credential
    bridge = client.app[EVENT_BRIDGE]
    async with (
        client.app[EVENTS].subscribe(CHANGES_TOPIC) as changes,
        aiohttp.ClientSession() as http,
        http.ws_connect(
            gateway.make_url("/ws/device"), headers={"Authorization": f"Bearer {token}"}
        ) as ws,
    ):
        await ws.send_json(HELLO)
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"
        async with gap(bridge):
            await ws.send_json({"type": "heartbeat", "seq": 1, "battery_pct": 15})
            await asyncio.sleep(1.5)  # written and announced by the gateway: lost
            assert changes.empty()
        event = await asyncio.wait_for(changes.get(), 8)
        assert event == {"device_id": device_id, "battery_pct": 15, "charging": None}


class FreezingProxy:
    """A TCP proxy to PostgreSQL whose open connections can be frozen: bytes stop in both
    directions and nothing is closed, as with a half-open connection (new ones pass)."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.frozen: set[int] = set()
        self.open: set[int] = set()
        self.writers: list[asyncio.StreamWriter] = []
        self.closing = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    def freeze(self) -> None:
        self.frozen |= self.open

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self.writers += [writer, up_writer]
        ident = id(writer)
        self.open.add(ident)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    if ident in self.frozen:
                        await self.closing.wait()
                    dst.write(data)
                    await dst.drain()
            dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self.open.discard(ident)

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        self.closing.set()
        for writer in self.writers:  # the frozen backend ends too: the next test counts none
            writer.transport.abort()
        await asyncio.sleep(0.1)


async def test_a_half_open_listen_connection_is_noticed_and_resynced(postgres_url):
    dsn = asyncpg_dsn(postgres_url)
    host_port = dsn.rpartition("@")[2].partition("/")[0]
    host, _, port = host_port.partition(":")
    proxy = FreezingProxy(host, int(port or 5432))
    via = dsn.replace(host_port, f"127.0.0.1:{await proxy.start()}", 1)
    quiet, other = EventHub(), EventHub()
    watched = PostgresEventBridge(via, quiet, tick=0.05, check_every=0.5, check_timeout=0.5)
    peer = PostgresEventBridge(dsn, other, tick=0.05)
    await watched.start()
    await peer.start()
    try:
        async with (
            quiet.subscribe("fleet:p") as fleet,
            quiet.subscribe(RESYNC_TOPIC) as resyncs,
            other.subscribe(RESYNC_TOPIC) as asked,
        ):
            proxy.freeze()
            other.publish("fleet:p", {"n": 1})  # lost in the frozen connection
            loop = asyncio.get_running_loop()
            started = loop.time()
            event = await asyncio.wait_for(resyncs.get(), 5)
            noticed = loop.time() - started
            assert watched.unresponsive == 1
            assert watched.reconnects == 1
            assert noticed < 2.5  # idle 0.5 s + no answer in 0.5 s + reconnect 0.5 s
            assert event["reconnected"] == watched.instance
            assert await asyncio.wait_for(asked.get(), 5) == {"asked_by": watched.instance}
            other.publish("fleet:p", {"n": 2})  # the new connection listens
            while (got := await asyncio.wait_for(fleet.get(), 5)) != {"n": 2}:
                assert got == {"n": 1}  # if the server got it out before the freeze
    finally:
        await watched.close()
        await peer.close()
        await proxy.close()
