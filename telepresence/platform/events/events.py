"""Live updates inside one process: named topics, bounded subscriber queues.

Pages subscribe (server-sent events) and services publish small dicts. A
slow subscriber loses the oldest updates rather than growing memory, except
on topics registered with ``coalesce``: there each subscriber keeps the latest
event per key (a device's battery, its room), so a flood of thousands of
updates loses none of the states they end in, in memory bounded by the keys.
Topics registered with ``on_demand`` are live views (a page open somewhere): a
publisher asks ``wanted`` first and builds no update that nobody would see; with
a bridge, other instances say which of them they subscribe to.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Any

import structlog

__all__ = ["EventHub", "EventKey", "LatestQueue"]

EventKey = Callable[[dict[str, Any]], Hashable]
"""What an event is about (a device and the kind of change): later ones replace it."""
log = structlog.get_logger("classbridge.events")


class LatestQueue:
    """A queue keeping one entry per key: a newer event is merged into the pending one.

    It has the reading half of ``asyncio.Queue`` (``get``, ``get_nowait``,
    ``empty``, ``qsize``). Entries come out in the order their key first
    arrived; a merged event carries every field either had, the newer winning.
    Past ``limit`` keys a new key is refused with a warning in the log (never
    silently): the limit is set far above any fleet.
    """

    def __init__(self, key: EventKey, limit: int = 200_000) -> None:
        self.key = key
        self.limit = limit
        self.refused = 0
        self._pending: dict[Hashable, dict[str, Any]] = {}
        self._ready = asyncio.Event()

    def put_nowait(self, event: dict[str, Any]) -> None:
        """Add ``event``, merging it into a pending one about the same thing."""
        key = self.key(event)
        held = self._pending.get(key)
        if held is not None:
            self._pending[key] = {**held, **event}
        elif len(self._pending) >= self.limit:
            self.refused += 1
            log.warning("event_refused", key=str(key), pending=len(self._pending))
            return
        else:
            self._pending[key] = event
        self._ready.set()

    def get_nowait(self) -> dict[str, Any]:
        """The oldest pending entry; ``asyncio.QueueEmpty`` if there is none."""
        if not self._pending:
            raise asyncio.QueueEmpty
        key = next(iter(self._pending))
        event = self._pending.pop(key)
        if not self._pending:
            self._ready.clear()
        return event

    async def get(self) -> dict[str, Any]:
        """Wait for an entry and take it."""
        while not self._pending:
            await self._ready.wait()
        return self.get_nowait()

    def empty(self) -> bool:
        """Whether nothing is pending."""
        return not self._pending

    def qsize(self) -> int:
        """How many entries (distinct keys) are pending."""
        return len(self._pending)


Subscriber = asyncio.Queue[dict[str, Any]] | LatestQueue


class EventHub:
    """Fan-out of events to subscribers of a topic."""

    def __init__(self, queue_size: int = 100) -> None:
        self.queue_size = queue_size
        self.forward: Callable[[str, dict[str, Any]], None] | None = None
        self.keys: dict[str, EventKey] = {}
        self.on_demand_prefixes: tuple[str, ...] = ()
        # Set by a bridge: whether another instance subscribes to an on-demand topic.
        self.wanted_elsewhere: Callable[[str], bool] | None = None
        self._subscribers: dict[str, set[Any]] = defaultdict(set)

    def coalesce(self, topic: str, key: EventKey) -> None:
        """Events of ``topic`` are states: keep the latest per ``key``, never drop one."""
        self.keys[topic] = key

    def on_demand(self, prefix: str) -> None:
        """Topics starting with ``prefix`` are live views: ``wanted`` says whether anyone
        (here or, bridged, on another instance) subscribes to one right now."""
        if prefix not in self.on_demand_prefixes:
            self.on_demand_prefixes = (*self.on_demand_prefixes, prefix)

    def wanted(self, topic: str) -> bool:
        """Whether an event of ``topic`` would reach a subscriber, here or elsewhere.

        Without a bridge: a subscriber here. With one: also an on-demand topic another
        instance said it subscribes to, and any other topic (the bridge cannot tell).
        """
        if self._subscribers.get(topic):
            return True
        if self.forward is None:
            return False
        if self.wanted_elsewhere is None or not topic.startswith(self.on_demand_prefixes):
            return True
        return self.wanted_elsewhere(topic)

    def demanded(self) -> frozenset[str]:
        """The on-demand topics with a subscriber here (what a bridge tells the others)."""
        prefixes = self.on_demand_prefixes
        if not prefixes:
            return frozenset()
        found = self._subscribers.items()
        return frozenset(t for t, subs in found if subs and t.startswith(prefixes))

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver ``event`` here and, with a bridge, to the other instances; never waits."""
        self.deliver(topic, event)
        if self.forward is not None:
            self.forward(topic, event)

    def deliver(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver ``event`` to this process's subscribers of ``topic`` only."""
        for queue in tuple(self._subscribers.get(topic, ())):
            if isinstance(queue, asyncio.Queue) and queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(
        self, topic: str, *more: str, size: int | None = None
    ) -> AsyncIterator[Any]:
        """One queue receiving the events of these topics until the context exits.

        Bounded by ``size`` (default ``queue_size``; the oldest event goes) unless the
        first topic coalesces: then a ``LatestQueue`` with that topic's key.
        """
        key = self.keys.get(topic)
        queue: Subscriber = LatestQueue(key) if key else asyncio.Queue(size or self.queue_size)
        topics = (topic, *more)
        for name in topics:
            self._subscribers[name].add(queue)
        try:
            yield queue
        finally:
            for name in topics:
                self._subscribers[name].discard(queue)
                if not self._subscribers[name]:
                    del self._subscribers[name]

    def subscriber_count(self, topic: str) -> int:
        """How many subscribers a topic has now."""
        return len(self._subscribers.get(topic, ()))
