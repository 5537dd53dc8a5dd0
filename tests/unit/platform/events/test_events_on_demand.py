"""Live views on demand: a heartbeat's fleet update is built and sent only while a page is open.

Two bridges stand for the service and the device gateway; their NOTIFYs are handed
from one to the other by hand (no database), so every step is checked as it happens.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from unittest.mock import MagicMock

import pytest

from device_registry.domain import LiveTelemetry, NetworkType
from device_registry.links import FLEET_TOPICS, Link, LinkHub, fleet_topic
from telepresence.platform.clock import FixedClock
from telepresence.platform.events import eventbridge
from telepresence.platform.events.eventbridge import PostgresEventBridge
from telepresence.platform.events.events import EventHub

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
TOPIC = fleet_topic("p1")


def _hub() -> EventHub:
    hub = EventHub()
    hub.on_demand(FLEET_TOPICS)
    return hub


def _bridged() -> PostgresEventBridge:
    """A bridge as ``start`` leaves it, without a connection (nothing is sent here)."""
    bridge = PostgresEventBridge("postgresql://localhost/x", _hub())
    bridge.hub.forward = bridge._queue
    bridge.hub.wanted_elsewhere = bridge.wanted_elsewhere
    return bridge


def _hand_over(sender: PostgresEventBridge, *receivers: PostgresEventBridge) -> bool:
    """What the sender says at its next tick reaches the receivers (and itself, as NOTIFY
    does); whether it said anything."""
    said = sender._wants_message()
    if said is None:
        return False
    for bridge in (sender, *receivers):
        bridge._received(None, 0, eventbridge.CHANNEL, said)
    return True


async def test_without_a_bridge_only_a_subscriber_here_wants_a_topic():
    hub = _hub()
    assert not hub.wanted(TOPIC)
    async with hub.subscribe(TOPIC):
        assert hub.wanted(TOPIC)
        assert hub.demanded() == {TOPIC}
    assert not hub.wanted(TOPIC)
    assert hub.demanded() == frozenset()


async def test_a_bridged_hub_wants_what_another_instance_subscribes_to():
    service, gateway = _bridged(), _bridged()
    assert _hand_over(gateway, service)  # connecting: says it wants nothing, asks the others
    assert _hand_over(service, gateway)  # the answer (nothing yet)
    assert not gateway.hub.wanted(TOPIC)
    assert gateway.hub.wanted("devices:changes")  # not on demand: always forwarded
    async with service.hub.subscribe(TOPIC):  # a fleet page opens on the service
        assert _hand_over(service, gateway)
        assert gateway.hub.wanted(TOPIC)
        assert not gateway.hub.wanted(fleet_topic("p2"))  # another provider's: nobody
        assert not service.hub.wanted(fleet_topic("p2"))
        assert not _hand_over(service, gateway)  # said already, not due again yet
    assert _hand_over(service, gateway)  # closed: said at once
    assert not gateway.hub.wanted(TOPIC)


async def test_what_an_instance_wants_is_said_again_and_lapses_when_it_goes_quiet():
    service, gateway = _bridged(), _bridged()
    clock = [1_000.0]
    for bridge in (service, gateway):
        bridge.clock = lambda: clock[0]
    async with service.hub.subscribe(TOPIC):
        assert _hand_over(service, gateway)
        clock[0] += eventbridge.WANTS_EVERY_S
        assert _hand_over(service, gateway)  # due again while the page is open
        clock[0] += eventbridge.WANTS_TTL_S - 1
        assert gateway.hub.wanted(TOPIC)
        clock[0] += 1  # the service died (said nothing since): no longer wanted
        assert not gateway.hub.wanted(TOPIC)


async def test_a_connecting_instance_asks_and_the_others_say_at_once():
    service, gateway = _bridged(), _bridged()
    async with service.hub.subscribe(TOPIC):
        assert _hand_over(service, gateway)
        restarted = _bridged()  # the gateway restarted: knows nothing
        assert not restarted.hub.wanted(TOPIC)
        assert _hand_over(restarted, service)  # asks
        assert _hand_over(service, restarted)  # not due for 5 s, said at once all the same
        assert restarted.hub.wanted(TOPIC)


def test_a_bridge_skips_its_own_echo_without_decoding_it(monkeypatch):
    bridge, other = _bridged(), _bridged()
    bridge._queue(TOPIC, {"device_id": "d1", "online": True})
    other._queue(TOPIC, {"n": 1})
    [own], [theirs] = bridge._batches(), other._batches()
    decoded: list[str] = []
    real_loads = json.loads

    def loads(text: str) -> object:
        decoded.append(text)
        return real_loads(text)

    monkeypatch.setattr(f"{eventbridge.__name__}.json.loads", loads)
    got: list[dict[str, object]] = []
    monkeypatch.setattr(bridge.hub, "deliver", lambda _topic, event: got.append(event))
    bridge._received(None, 0, eventbridge.CHANNEL, own)
    assert decoded == []
    bridge._received(None, 0, eventbridge.CHANNEL, theirs)
    assert decoded == [theirs]
    assert got == [{"n": 1}]


@pytest.mark.parametrize("watching", [False, True])
async def test_a_heartbeat_goes_to_a_fleet_page_only_while_one_is_open(watching, monkeypatch):
    events = _hub()
    hub = LinkHub(MagicMock(), FixedClock(NOW), events)
    link = Link(ws=MagicMock(), device_id="d1", provider_id="p1", last_seen=NOW)
    reading = LiveTelemetry(
        at=NOW,
        battery_pct=64,
        charging=False,
        signal_dbm=-61,
        network_type=NetworkType.WIFI,
        room="S12",
    )
    published: list[tuple[str, dict[str, object]]] = []
    real_publish = events.publish

    def publish(topic: str, event: dict[str, object]) -> None:
        published.append((topic, event))
        real_publish(topic, event)

    monkeypatch.setattr(events, "publish", publish)
    if watching:
        async with events.subscribe(TOPIC) as page:
            hub.report(link, reading)
            assert page.get_nowait()["battery_pct"] == 64
    else:
        hub.report(link, reading)
    assert [t for t, _ in published if t == TOPIC] == ([TOPIC] if watching else [])
    # Going online and offline is told whether or not a page is open (rare, and a page
    # opened a moment later must not show a device that left as online).
    await hub.attach(link)
    hub.detach(link)
    assert [e["online"] for t, e in published if t == TOPIC][-2:] == [True, False]


def test_batches_are_encoded_a_batch_at_a_time_in_order_and_under_the_limit():
    bridge = _bridged()
    sizes = [5, 40, 300, 2_000, 10, 7_000, 1, 900] * 60
    for n, size in enumerate(sizes):
        bridge._queue(TOPIC, {"n": n, "pad": "x" * size})
    bridge._queue(TOPIC, {"n": len(sizes), "pad": "x" * 9_000})  # too large even alone
    payloads = bridge._batches()
    got = [event["n"] for p in payloads for _t, event in json.loads(p)["events"]]
    assert got == list(range(len(sizes) + 1))
    assert all(len(p) <= eventbridge.MAX_PAYLOAD for p in payloads[:-1])
    assert len(json.loads(payloads[-1])["events"]) == 1  # the large one, alone
    for n in range(3_000):  # what a gateway sends: device changes, 40-140 bytes each
        bridge._queue(TOPIC, {"device_id": f"d{n}", "room": "x" * (n % 100)})
    payloads = bridge._batches()
    assert len(payloads) <= sum(map(len, payloads)) / (0.8 * eventbridge.MAX_PAYLOAD) + 1
    assert all(len(p) <= eventbridge.MAX_PAYLOAD for p in payloads)
