"""Live updates inside one process: named topics, bounded subscriber queues.

Pages subscribe (server-sent events) and services publish small dicts. A
slow subscriber loses the oldest updates rather than growing memory.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["EventHub"]


class EventHub:
    """Fan-out of events to subscribers of a topic."""

    def __init__(self, queue_size: int = 100) -> None:
        self.queue_size = queue_size
        self.forward: Callable[[str, dict[str, Any]], None] | None = None
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver ``event`` here and, with a bridge, to the other instances; never waits."""
        self.deliver(topic, event)
        if self.forward is not None:
            self.forward(topic, event)

    def deliver(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver ``event`` to this process's subscribers of ``topic`` only."""
        for queue in tuple(self._subscribers.get(topic, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(
        self, topic: str, *more: str
    ) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        """One bounded queue receiving the events of these topics until the context exits."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self.queue_size)
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
