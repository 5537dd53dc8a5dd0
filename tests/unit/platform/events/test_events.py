"""In-process fan-out of live updates."""

from __future__ import annotations

import asyncio
import json

from device_registry.hub import CHANGES_TOPIC, change_key
from telepresence.platform.events.eventbridge import OUTBOX_SIZE, PostgresEventBridge
from telepresence.platform.events.events import EventHub


async def test_subscribers_get_events_of_their_topic_only():
    hub = EventHub()
    async with hub.subscribe("fleet:a") as a, hub.subscribe("fleet:b") as b:
        hub.publish("fleet:a", {"n": 1})
        assert a.get_nowait() == {"n": 1}
        assert b.empty()
    assert hub.subscriber_count("fleet:a") == 0


async def test_a_slow_subscriber_loses_the_oldest_events_not_memory():
    hub = EventHub(queue_size=3)
    async with hub.subscribe("t") as queue:
        for n in range(10):
            hub.publish("t", {"n": n})
        assert queue.qsize() == 3
        assert [queue.get_nowait()["n"] for _ in range(3)] == [7, 8, 9]


def _by_device(event):
    return event["device_id"]


async def test_a_coalesced_topic_keeps_the_latest_state_of_every_key_in_a_flood():
    hub = EventHub(queue_size=3)
    hub.coalesce("changes", _by_device)
    async with hub.subscribe("changes") as queue:
        for n in range(10_000):  # 3,000 devices, each reporting three or four times
            hub.publish("changes", {"device_id": f"d{n % 3000}", "battery_pct": n % 101})
        assert queue.qsize() == 3000
        got = {}
        while not queue.empty():
            event = queue.get_nowait()
            got[event["device_id"]] = event["battery_pct"]
    expected = {f"d{n % 3000}": n % 101 for n in range(10_000)}
    assert got == expected


async def test_a_merged_event_keeps_every_field_the_newer_one_winning():
    hub = EventHub()
    hub.coalesce("changes", _by_device)
    async with hub.subscribe("changes") as queue:
        hub.publish("changes", {"device_id": "a", "battery_pct": 50, "charging": True})
        hub.publish("changes", {"device_id": "b", "battery_pct": 10})
        hub.publish("changes", {"device_id": "a", "battery_pct": 40})
        assert await queue.get() == {"device_id": "a", "battery_pct": 40, "charging": True}
        assert await queue.get() == {"device_id": "b", "battery_pct": 10}
        assert queue.empty()


async def test_a_waiting_reader_wakes_for_a_coalesced_event():
    hub = EventHub()
    hub.coalesce("changes", _by_device)
    async with hub.subscribe("changes") as queue:
        reader = asyncio.ensure_future(queue.get())
        await asyncio.sleep(0)
        hub.publish("changes", {"device_id": "a"})
        assert await asyncio.wait_for(reader, 1) == {"device_id": "a"}


def test_device_changes_of_different_kinds_are_not_merged():
    keys = {
        change_key({"device_id": "a", "battery_pct": 5, "charging": False}),
        change_key({"device_id": "a", "reported_room": "S12"}),
        change_key({"device_id": "a", "lifecycle": "maintenance"}),
        change_key({"device_id": "a", "charging_base_room_id": "r1"}),
        change_key({"device_id": "b", "battery_pct": 5}),
    }
    assert keys == {("a", "reading"), ("a", "room"), ("a", "staff"), ("b", "reading")}


def test_the_bridge_forwards_every_device_change_of_a_flood_and_caps_the_rest():
    hub = EventHub()
    hub.coalesce(CHANGES_TOPIC, change_key)
    bridge = PostgresEventBridge("postgresql+asyncpg://localhost/x", hub)
    for n in range(20_000):
        bridge._queue(CHANGES_TOPIC, {"device_id": f"d{n % 8000}", "battery_pct": n % 101})
        bridge._queue("fleet:p", {"device_id": f"d{n % 8000}", "online": True})
    changes, fleet = {}, 0
    for payload in bridge._batches():
        assert len(payload) < 8000  # PostgreSQL's NOTIFY limit
        for topic, event in json.loads(payload)["events"]:
            if topic == CHANGES_TOPIC:
                changes[event["device_id"]] = event["battery_pct"]
            else:
                fleet += 1
    assert changes == {f"d{n % 8000}": n % 101 for n in range(20_000)}
    assert fleet == OUTBOX_SIZE
    assert not bridge._pending()


class _Connection:
    """Stands for asyncpg's: NOTIFYs are recorded; one can be made to fail by dying."""

    def __init__(self, die_on: int | None = None) -> None:
        self.sent: list[str] = []
        self.closed = False
        self.die_on = die_on

    def is_closed(self) -> bool:
        return self.closed

    def terminate(self) -> None:
        self.closed = True

    async def fetchval(self, _sql: str, timeout: float | None = None) -> int:
        return 1

    async def execute(
        self, _sql: str, _channel: str, payload: str, timeout: float | None = None
    ) -> None:
        if self.die_on is not None and len(self.sent) == self.die_on:
            self.closed = True
            raise ConnectionResetError("the server closed the connection")
        self.sent.append(payload)


async def test_batches_a_dying_connection_did_not_send_go_first_after_reconnecting(monkeypatch):
    monkeypatch.setattr("telepresence.platform.events.eventbridge.RECONNECT_FIRST_S", 0.01)
    bridge = PostgresEventBridge("postgresql://localhost/x", EventHub(), tick=0.01)
    dying, fresh = _Connection(die_on=1), _Connection()

    async def connect() -> None:
        bridge._conn = fresh

    bridge._connect = connect  # type: ignore[method-assign]
    bridge._conn = dying
    for n in range(300):  # ~4 batches of 7,500 bytes
        bridge._queue("fleet:p", {"n": n, "pad": "x" * 80})
    task = asyncio.get_running_loop().create_task(bridge._send_loop())
    try:
        async with asyncio.timeout(5):
            while bridge._pending() or bridge._unsent or not fresh.sent:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
    sent = [
        event["n"]
        for payload in dying.sent + fresh.sent
        for topic, event in json.loads(payload)["events"]
        if topic == "fleet:p"  # not the resync asked for after reconnecting
    ]
    assert sent == list(range(300))
    assert bridge.reconnects == 1
