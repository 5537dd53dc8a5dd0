"""The service's device sockets: ``LinkHub`` writing through SQLAlchemy.

The logic (links, write-behind, presence, revocation) is ``device_registry.links``;
this module adds the service's store and what the service answers for device
gateways (``device_registry.gateway``): a robot's hello and its ``session_rejoin``,
which need the lessons, are handed over on ``LESSONS_TOPIC`` and answered here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import insert, select, update

from device_registry.links import (
    BATTERY_STEP,
    CHANGES_TOPIC,
    LESSONS_TOPIC,
    OUTBOX_TOPIC,
    Link,
    LinkHub,
    Written,
    change_key,
    fleet_topic,
)
from device_registry.models import Device, DeviceCommandRecord, DeviceCredential, TelemetrySample
from device_registry.services import record_ack
from telepresence.platform.clock import Clock
from telepresence.platform.database import Database
from telepresence.platform.events.events import EventHub

__all__ = [
    "BATTERY_STEP",
    "CHANGES_TOPIC",
    "OUTBOX_TOPIC",
    "DeviceHub",
    "Link",
    "SqlTelemetryStore",
    "change_key",
    "fleet_topic",
]

log = structlog.get_logger("classbridge.devices")


class SqlTelemetryStore:
    """Implements ``TelemetryStore`` with the service's database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def write(
        self,
        rows: list[dict[str, Any]],
        samples: list[dict[str, Any]],
        first_rooms: dict[str, str],
        revoked_since: datetime,
    ) -> Written:
        """One transaction: rows, samples, the first rooms compared, the revocations read."""
        async with self.database.transaction() as session:
            moved = await _rooms_that_changed(session, first_rooms)
            if rows:
                await _update_devices(session, rows)
            if samples:
                await session.execute(insert(TelemetrySample), samples)
            revoked = await session.execute(
                select(DeviceCredential.device_id, DeviceCredential.revoked_at).where(
                    DeviceCredential.revoked_at >= revoked_since
                )
            )
            revoked_at: dict[str, datetime] = {}
            for device_id, when in revoked:
                if when is not None:  # the query asks for revoked ones only
                    revoked_at[device_id] = max(when, revoked_at.get(device_id, when))
        return Written(moved=moved, revoked=revoked_at)

    async def record_ack(
        self, device_id: str, command_id: str, *, ok: bool, detail: str, now: datetime
    ) -> bool:
        """``services.record_ack`` in a transaction of its own."""
        async with self.database.transaction() as session:
            return await record_ack(session, device_id, command_id, ok=ok, detail=detail, now=now)

    async def pending_commands(
        self, device_ids: list[str], since: datetime
    ) -> list[dict[str, Any]]:
        """Unacknowledged commands to these devices since ``since``, oldest first."""
        async with self.database.sessions() as session:
            found = await session.execute(
                select(DeviceCommandRecord)
                .where(
                    DeviceCommandRecord.device_id.in_(device_ids),
                    DeviceCommandRecord.acked_at.is_(None),
                    DeviceCommandRecord.created_at >= since,
                )
                .order_by(DeviceCommandRecord.created_at)
            )
            return [
                {
                    "device_id": c.device_id,
                    "type": "command",
                    "command_id": c.id,
                    "command": c.command,
                    "args": c.args,
                }
                for c in found.scalars()
            ]


class DeviceHub(LinkHub):
    """The service's ``LinkHub``; answers gateways' lesson questions when ``answers_gateways``."""

    def __init__(
        self, database: Database, clock: Clock, events: EventHub, **options: float
    ) -> None:
        """``options``: ``LinkHub``'s (``flush_every``, ``keepalive``, ``refresh_every``)."""
        super().__init__(SqlTelemetryStore(database), clock, events, **options)
        self.database = database
        # Set by the composition root: whether this instance is the one (of several) that
        # answers device gateways (the leader), so that a robot is invited once.
        self.answers_gateways: Callable[[], bool] = lambda: False

    async def missed_while_away(self, since: datetime) -> None:
        """Devices that went offline elsewhere since ``since`` (their announcement was lost
        while this instance's LISTEN was down): told to this instance's fleet pages."""
        async with self.database.sessions() as session:
            found = await session.execute(
                select(Device.id, Device.provider_id, Device.last_seen_at).where(
                    Device.online.is_(False), Device.last_seen_at >= since
                )
            )
            for device_id, provider_id, last_seen in found:
                if not self.is_connected(device_id) and last_seen is not None:
                    self.events.deliver(
                        fleet_topic(provider_id),
                        {
                            "device_id": device_id,
                            "online": False,
                            "last_seen_at": last_seen.isoformat(),
                        },
                    )

    def start(self) -> None:
        """Start the loops, and the answers to gateways' lesson questions."""
        if not self._tasks:
            super().start()
            self._tasks.append(asyncio.get_running_loop().create_task(self._answer_gateways()))

    async def _answer_gateways(self) -> None:
        async with self.events.subscribe(LESSONS_TOPIC, size=10_000) as queue:
            while True:
                request = await queue.get()
                if self.lessons is None or not self.answers_gateways():
                    continue
                try:
                    await self._answer(str(request.get("device_id", "")), request)
                except Exception:
                    # One request's failure (a database hiccup) must not stop the answers.
                    log.exception("gateway_answer_failed", request=request)

    async def _answer(self, device_id: str, request: dict[str, Any]) -> None:
        assert self.lessons is not None
        if "rejoin" in request:
            answer = await self.lessons.rejoin(device_id, str(request["rejoin"]))
            self.events.publish(OUTBOX_TOPIC, {"device_id": device_id, "message": answer})
        else:
            hello = request.get("hello")
            self.lessons.welcomed(device_id, str(hello) if hello else None)


async def _rooms_that_changed(session: Any, reported: dict[str, str]) -> dict[str, str]:
    """Of these first reports on new sockets, the rooms that differ from the stored ones."""
    stored: dict[str, str | None] = {}
    ids = list(reported)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        found = await session.execute(
            select(Device.id, Device.reported_room).where(Device.id.in_(chunk))
        )
        for device_id, room in found:
            stored[device_id] = room
    return {
        device_id: room for device_id, room in reported.items() if stored.get(device_id) != room
    }


async def _update_devices(session: Any, rows: list[dict[str, Any]]) -> None:
    # Rows differ in which columns they carry; group so each batch is one executemany.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for batch in groups.values():
        await session.execute(update(Device), batch)
