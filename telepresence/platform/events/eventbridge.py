"""Live events across instances: PostgreSQL LISTEN/NOTIFY carries them between processes.

An instance publishes to its own subscribers at once and forwards the event
to the others through one NOTIFY channel; events are batched (one NOTIFY per
tick, under PostgreSQL's 8,000-byte payload limit) so a busy fleet does not
mean a NOTIFY per heartbeat. Best effort by design: a page that misses an
update gets the next one, and reloads show the database's state. Topics the
hub coalesces (device changes the rota acts on) are not dropped: the latest
event per key waits for the next tick however many arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import deque
from typing import Any

import structlog

from telepresence.platform.events.events import EventHub, LatestQueue

__all__ = ["CHANNEL", "PostgresEventBridge"]

CHANNEL = "classbridge_events"
MAX_PAYLOAD = 7_500
OUTBOX_SIZE = 5_000
log = structlog.get_logger("classbridge.events")


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The plain ``postgresql://`` DSN asyncpg takes, from a SQLAlchemy URL (or that DSN)."""
    if sqlalchemy_url.startswith("postgresql://"):
        return sqlalchemy_url
    from sqlalchemy.engine import make_url  # not for the device gateway, which passes a DSN

    return (
        make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


class PostgresEventBridge:
    """Forwards an ``EventHub``'s events to other instances and back; ``close()`` is idempotent."""

    def __init__(self, database_url: str, hub: EventHub, *, tick: float = 0.1) -> None:
        self.dsn = asyncpg_dsn(database_url)
        self.hub = hub
        self.tick = tick
        self.instance = uuid.uuid4().hex[:12]
        # Superseded updates (fleet pages): the oldest go when a burst overflows.
        self._outbox: deque[tuple[str, dict[str, Any]]] = deque(maxlen=OUTBOX_SIZE)
        self._latest: dict[str, LatestQueue] = {}
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None
        self._postgres_error: type[Exception] = OSError

    async def start(self) -> None:
        """Connect, listen, and start forwarding this instance's events."""
        import asyncpg  # only deployments on PostgreSQL load the driver

        self._conn = await asyncpg.connect(self.dsn)
        await self._conn.add_listener(CHANNEL, self._received)
        self.hub.forward = self._queue
        self._postgres_error = asyncpg.PostgresError
        self._task = asyncio.get_running_loop().create_task(self._send_loop())

    def _queue(self, topic: str, event: dict[str, Any]) -> None:
        key = self.hub.keys.get(topic)
        if key is None:
            self._outbox.append((topic, event))  # a full deque drops its oldest
            return
        if topic not in self._latest:
            self._latest[topic] = LatestQueue(key)
        self._latest[topic].put_nowait(event)

    def _pending(self) -> bool:
        return bool(self._outbox) or any(not q.empty() for q in self._latest.values())

    def _drain(self) -> list[tuple[str, dict[str, Any]]]:
        items = list(self._outbox)
        self._outbox.clear()
        for topic, queue in self._latest.items():
            while not queue.empty():
                items.append((topic, queue.get_nowait()))
        return items

    def _received(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        if message.get("from") == self.instance:
            return
        for topic, event in message.get("events", []):
            self.hub.deliver(topic, event)

    def _batches(self) -> list[str]:
        # Each event is encoded once; a batch is those encodings joined (the same JSON
        # as encoding the whole message, at half the cost: 670 fleet updates a second).
        head = f'{{"from": {json.dumps(self.instance)}, "events": ['
        batches: list[str] = []
        encoded: list[str] = []
        size = len(head) + 2
        for item in self._drain():
            text = json.dumps(item, default=str)
            if encoded and size + len(text) + 2 > MAX_PAYLOAD:
                batches.append(head + ", ".join(encoded) + "]}")
                encoded, size = [], len(head) + 2
            encoded.append(text)
            size += len(text) + 2
        if encoded:
            batches.append(head + ", ".join(encoded) + "]}")
        return batches

    async def _send_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            if self._conn is None or not self._pending():
                continue
            for payload in self._batches():
                try:
                    await self._conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
                except (OSError, self._postgres_error) as exc:
                    log.warning("event_forward_failed", error=str(exc))

    async def close(self) -> None:
        """Stop forwarding and disconnect."""
        self.hub.forward = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()
