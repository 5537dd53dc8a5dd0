"""The event bridge survives its LISTEN connection ending (a PostgreSQL restart, an admin's kill).

Two bridges over the test run's own PostgreSQL database stand for two instances
(or an instance and the device gateway). Their LISTEN connections are ended with
``pg_terminate_backend``, which is what a restart does to them; events published
afterwards, and while they are still reconnecting, must still arrive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from factories import OPERATOR_TOKEN

from device_registry.gateway.server import GATEWAY_BRIDGE, create_gateway
from device_registry.links import CHANGES_TOPIC, change_key
from telepresence.app import create_app
from telepresence.platform.events.eventbridge import (
    APPLICATION_NAME,
    PostgresEventBridge,
    asyncpg_dsn,
)
from telepresence.platform.events.events import EventHub
from telepresence.platform.http.context import EVENT_BRIDGE, EVENTS

TOPIC = "fleet:org-1"


async def _terminate_bridges(url: str) -> int:
    """End every bridge's LISTEN connection to this database (only this test run's)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        ended = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = $1",
            APPLICATION_NAME,
        )
    finally:
        await conn.close()
    return len(ended)


async def _bridge(url: str) -> PostgresEventBridge:
    hub = EventHub()
    hub.coalesce(CHANGES_TOPIC, change_key)
    bridge = PostgresEventBridge(url, hub, tick=0.05)
    await bridge.start()
    return bridge


@pytest.fixture
async def bridges(postgres_url: str) -> AsyncIterator[tuple[PostgresEventBridge, ...]]:
    one, two = await _bridge(postgres_url), await _bridge(postgres_url)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


async def _disconnected(*bridges: PostgresEventBridge) -> None:
    """Wait until each has seen its connection end (it tries again only 0.5 s later)."""
    async with asyncio.timeout(5):
        while any(bridge.connected for bridge in bridges):
            await asyncio.sleep(0.01)


async def _next(queue: Any, timeout: float = 5.0) -> dict[str, Any]:
    event: dict[str, Any] = await asyncio.wait_for(queue.get(), timeout)
    return event


async def _exchange(one: PostgresEventBridge, two: PostgresEventBridge, n: int) -> None:
    """An event each way arrives within a few seconds."""
    async with one.hub.subscribe(TOPIC) as at_one, two.hub.subscribe(TOPIC) as at_two:
        one.hub.publish(TOPIC, {"n": n, "from": "one"})
        assert await _next(at_two) == {"n": n, "from": "one"}
        two.hub.publish(TOPIC, {"n": n, "from": "two"})
        while (event := await _next(at_one))["from"] == "one":  # its own, delivered at once
            pass
        assert event == {"n": n, "from": "two"}


async def test_events_flow_again_after_the_listen_connections_are_terminated(postgres_url, bridges):
    one, two = bridges
    await _exchange(one, two, 1)
    assert await _terminate_bridges(postgres_url) == 2
    await _disconnected(one, two)
    await _exchange(one, two, 2)
    assert one.connected
    assert two.connected
    assert one.reconnects == two.reconnects == 1
    # And again: a second restart is no different from the first.
    assert await _terminate_bridges(postgres_url) == 2
    await _exchange(one, two, 3)


async def test_events_published_while_disconnected_are_sent_after_reconnecting(
    postgres_url, bridges
):
    one, two = bridges
    async with two.hub.subscribe(TOPIC) as fleet, two.hub.subscribe(CHANGES_TOPIC) as changes:
        await _terminate_bridges(postgres_url)
        await _disconnected(one)
        one.hub.publish(TOPIC, {"n": 1})
        for pct in (50, 40, 30):  # coalesced: the latest reading per device goes
            one.hub.publish(CHANGES_TOPIC, {"device_id": "d1", "battery_pct": pct})
        assert await _next(fleet) == {"n": 1}
        assert await _next(changes) == {"device_id": "d1", "battery_pct": 30}


async def test_the_bridge_keeps_trying_while_the_database_is_unreachable(postgres_url, bridges):
    one, two = bridges
    dsn, one.dsn = one.dsn, "postgresql://postgres@127.0.0.1:1/nowhere"  # refused
    await _terminate_bridges(postgres_url)
    await asyncio.sleep(2.0)  # tries at 0.5 s and 1.5 s fail
    assert not one.connected
    one.hub.publish(TOPIC, {"n": 1})
    one.dsn = dsn  # the database is back
    async with two.hub.subscribe(TOPIC) as at_two:
        assert await _next(at_two, timeout=8.0) == {"n": 1}
    assert one.connected


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_service_and_the_gateway_reconnect_and_say_so(aiohttp_client, settings):
    service = await aiohttp_client(create_app(settings))
    gateway = await aiohttp_client(create_gateway(settings))
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}

    async def states() -> tuple[str, str]:
        ready = await (await service.get("/readyz", headers=operator)).json()
        health = await (await gateway.get("/healthz")).json()
        return ready["event_bridge"], health["bridge"]

    assert await states() == ("connected", "connected")
    assert await _terminate_bridges(settings.database_url) == 2
    await _disconnected(service.app[EVENT_BRIDGE], gateway.app[GATEWAY_BRIDGE])
    assert await states() == ("reconnecting", "reconnecting")
    assert (await service.get("/readyz")).status == 200  # information only
    # A fleet update from the gateway reaches the service after the restart.
    async with service.app[EVENTS].subscribe(TOPIC) as at_service:
        gateway.app[GATEWAY_BRIDGE].hub.publish(TOPIC, {"device_id": "d1", "online": True})
        assert await _next(at_service) == {"device_id": "d1", "online": True}
    assert await states() == ("connected", "connected")
