"""In-process fan-out of live updates."""

from __future__ import annotations

from telepresence.platform.events import EventHub


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
