"""The open device sockets of this process and their live telemetry.

Heartbeats are frequent (10,000 devices at 15 s is ~670 a second), so they
are applied in memory and written behind, in one batch a second: the latest
state to ``devices`` and a downsampled sample to ``telemetry_samples``.
Going online is published at once; the database follows within a second.
The same tick looks for credentials revoked (on any instance) since the last
tick and closes their sockets, so revocation takes effect within a second
across instances without extra machinery.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import insert, select, update

from device_registry.domain import LiveTelemetry, sample_due
from device_registry.models import Device, DeviceCredential, TelemetrySample
from device_registry.ports import LessonInvitations
from device_registry.protocol import CLOSE_AUTH, CLOSE_REPLACED
from telepresence.platform.clock import Clock
from telepresence.platform.database import Database
from telepresence.platform.events.events import EventHub

__all__ = ["CHANGES_TOPIC", "OUTBOX_TOPIC", "DeviceHub", "Link", "change_key", "fleet_topic"]

log = structlog.get_logger("classbridge.devices")
SAMPLE_EVERY = timedelta(minutes=1)


OUTBOX_TOPIC = "devices:outbox"
# Changes other packages act on (the rota): lifecycle set by staff, the room a
# device reports when it differs from the last one it reported, and its battery
# when it enters another BATTERY_STEP band or starts or stops charging (published
# after the reading is written, so a listener reads it back).
CHANGES_TOPIC = "devices:changes"
BATTERY_STEP = 10


def change_key(event: dict[str, Any]) -> tuple[str, str]:
    """What a change on ``CHANGES_TOPIC`` is about: the device, and a battery reading, a
    reported room or a change made by staff. A newer change of the same key supersedes
    (is merged into) a pending one: the rota acts on the latest state of each."""
    device_id = str(event.get("device_id", ""))
    if "lifecycle" in event or "charging_base_room_id" in event:
        return device_id, "staff"
    if "battery_pct" in event:
        return device_id, "reading"
    if "reported_room" in event:
        return device_id, "room"
    return device_id, "other"


def fleet_topic(provider_id: str) -> str:
    """The event topic of a provider's fleet page."""
    return f"fleet:{provider_id}"


@dataclass(eq=False, slots=True)
class Link:
    """One open device socket (kept small: there may be 10,000 of them)."""

    ws: web.WebSocketResponse
    device_id: str
    provider_id: str
    last_seen: datetime
    room: str | None = None
    connected_at: datetime | None = None  # set by attach(); revocations before it spare it


class DeviceHub:
    """Implements ``DeviceLinks``; ``close()`` is safe to call twice."""

    def __init__(
        self, database: Database, clock: Clock, events: EventHub, *, flush_every: float = 1.0
    ) -> None:
        self.database = database
        self.clock = clock
        self.events = events
        self.flush_every = flush_every
        self._links: dict[str, Link] = {}
        self._dirty: dict[str, LiveTelemetry] = {}
        self._presence: dict[str, tuple[bool, datetime]] = {}
        self._described: dict[str, dict[str, str]] = {}
        self._last_sample: dict[str, datetime] = {}
        self._battery_band: dict[str, tuple[int, bool | None]] = {}
        # The first room each new socket reports, checked against the stored one at the
        # next flush (in one query for all of them): after a restart 10,000 devices report
        # the room they were in, and only a room that changed is news for the rota.
        self._first_rooms: dict[str, str] = {}
        self._revoked_since: datetime = clock.now()
        self._task: asyncio.Task[None] | None = None
        self._outbox_task: asyncio.Task[None] | None = None
        # Set by the composition root: who invites a robot that says hello to its lesson.
        self.lessons: LessonInvitations | None = None

    def __len__(self) -> int:
        return len(self._links)

    def is_connected(self, device_id: str) -> bool:
        """Whether the device has an open socket in this process."""
        return device_id in self._links

    async def send(self, device_id: str, message: dict[str, Any]) -> bool:
        """Send a JSON message to a connected device; False when it is not here."""
        link = self._links.get(device_id)
        if link is None or link.ws.closed:
            return False
        await link.ws.send_json(message)
        return True

    async def send_anywhere(self, device_id: str, message: dict[str, Any]) -> None:
        """Send to the device on whichever instance holds its socket (best effort)."""
        if not await self.send(device_id, message):
            self.events.publish(OUTBOX_TOPIC, {"device_id": device_id, "message": message})

    async def _deliver_outbox(self) -> None:
        async with self.events.subscribe(OUTBOX_TOPIC) as queue:
            while True:
                item = await queue.get()
                link = self._links.get(item["device_id"])
                if link is not None and not link.ws.closed:
                    await link.ws.send_json(item["message"])

    async def disconnect(self, device_id: str, code: int, reason: str) -> None:
        """Close the device's socket if it is open here."""
        link = self._links.get(device_id)
        if link is not None:
            await link.ws.close(code=code, message=reason.encode()[:120])

    async def attach(self, link: Link) -> None:
        """Register a socket, closing an older one of the same device."""
        old = self._links.get(link.device_id)
        link.connected_at = link.connected_at or self.clock.now()
        self._links[link.device_id] = link
        if old is not None and old is not link:
            await old.ws.close(code=CLOSE_REPLACED, message=b"connected again elsewhere")
        self._set_presence(link, online=True)

    def describe(self, link: Link, fields: dict[str, str]) -> None:
        """What the device said about itself at hello; written on the next flush."""
        self._described[link.device_id] = fields

    def announce(self, provider_id: str, device_id: str, **change: Any) -> None:
        """Tell fleet pages, and whoever plans around devices, about a change made by staff."""
        self.events.publish(fleet_topic(provider_id), {"device_id": device_id, **change})
        self.events.publish(CHANGES_TOPIC, {"device_id": device_id, **change})

    def detach(self, link: Link) -> None:
        """Forget a closed socket (unless a newer one replaced it)."""
        if self._links.get(link.device_id) is link:
            del self._links[link.device_id]
            self._set_presence(link, online=False)

    def report(self, link: Link, telemetry: LiveTelemetry) -> None:
        """Apply a heartbeat: in memory now, in the database on the next flush."""
        link.last_seen = telemetry.at
        self._dirty[link.device_id] = telemetry
        if telemetry.room and telemetry.room != link.room:
            first = link.room is None
            link.room = telemetry.room
            if first:
                self._first_rooms[link.device_id] = telemetry.room
            else:
                self.events.publish(
                    CHANGES_TOPIC, {"device_id": link.device_id, "reported_room": telemetry.room}
                )
        self.events.publish(
            fleet_topic(link.provider_id),
            {
                "device_id": link.device_id,
                "online": True,
                "last_seen_at": telemetry.at.isoformat(),
                "battery_pct": telemetry.battery_pct,
                "charging": telemetry.charging,
                "signal_dbm": telemetry.signal_dbm,
                "reported_room": telemetry.room,
            },
        )

    def _set_presence(self, link: Link, *, online: bool) -> None:
        now = self.clock.now()
        self._presence[link.device_id] = (online, now)
        self.events.publish(
            fleet_topic(link.provider_id),
            {"device_id": link.device_id, "online": online, "last_seen_at": now.isoformat()},
        )

    async def flush(self) -> None:
        """Write pending presence and telemetry; close sockets of revoked credentials."""
        now = self.clock.now()
        presence, self._presence = self._presence, {}
        dirty, self._dirty = self._dirty, {}
        described, self._described = self._described, {}
        first_rooms, self._first_rooms = self._first_rooms, {}
        rows: dict[str, dict[str, Any]] = {
            device_id: {"id": device_id, "online": online, "last_seen_at": at}
            for device_id, (online, at) in presence.items()
        }
        for device_id, fields in described.items():
            rows.setdefault(device_id, {"id": device_id}).update(fields)
        samples = []
        for device_id, t in dirty.items():
            row = rows.setdefault(device_id, {"id": device_id, "online": True})
            row.update(
                last_seen_at=t.at,
                battery_pct=t.battery_pct,
                charging=t.charging,
                signal_dbm=t.signal_dbm,
                network_type=t.network_type.value,
                reported_room=t.room,
            )
            if device_id not in self._links:
                row["online"] = False
            if sample_due(self._last_sample.get(device_id), t.at, SAMPLE_EVERY):
                self._last_sample[device_id] = t.at
                samples.append(
                    {
                        "device_id": device_id,
                        "at": t.at,
                        "battery_pct": t.battery_pct,
                        "charging": t.charging,
                        "signal_dbm": t.signal_dbm,
                        "network_type": t.network_type.value,
                        "room": t.room,
                    }
                )
        async with self.database.transaction() as session:
            moved = await _rooms_that_changed(session, first_rooms)
            if rows:
                await _update_devices(session, list(rows.values()))
            if samples:
                await session.execute(insert(TelemetrySample), samples)
            revoked = await session.execute(
                select(DeviceCredential.device_id, DeviceCredential.revoked_at).where(
                    DeviceCredential.revoked_at >= self._revoked_since
                )
            )
            revoked_at: dict[str, datetime] = {}
            for device_id, when in revoked:
                if when is not None:  # the query asks for revoked ones only
                    revoked_at[device_id] = max(when, revoked_at.get(device_id, when))
        self._revoked_since = now - timedelta(seconds=self.flush_every)
        for device_id, room in moved.items():
            self.events.publish(CHANGES_TOPIC, {"device_id": device_id, "reported_room": room})
        self._announce_batteries(dirty)
        for device_id, when in revoked_at.items():
            link = self._links.get(device_id)
            # A socket opened after the revocation holds the new credential (pairing again
            # revokes the old one and issues a new one): it stays.
            if link is not None and (link.connected_at is None or link.connected_at <= when):
                await self.disconnect(device_id, CLOSE_AUTH, "credential revoked")

    def _announce_batteries(self, written: dict[str, LiveTelemetry]) -> None:
        for device_id, t in written.items():
            if t.battery_pct is None:
                continue
            band = (t.battery_pct // BATTERY_STEP, t.charging)
            if self._battery_band.get(device_id) != band:
                self._battery_band[device_id] = band
                self.events.publish(
                    CHANGES_TOPIC,
                    {"device_id": device_id, "battery_pct": t.battery_pct, "charging": t.charging},
                )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every)
            try:
                await self.flush()
            except Exception:
                # Keep flushing after a database hiccup; the next tick retries.
                log.exception("telemetry_flush_failed")

    def start(self) -> None:
        """Start the write-behind loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
            self._outbox_task = asyncio.get_running_loop().create_task(self._deliver_outbox())

    async def close_sockets(self) -> None:
        """Close every device socket (1001: going away); the devices reconnect."""
        for link in list(self._links.values()):
            await link.ws.close(code=1001, message=b"server shutting down")

    async def close(self) -> None:
        """Stop the loop, flush once more and close every socket (1001: going away)."""
        for task in (self._task, self._outbox_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._outbox_task = None
        await self.close_sockets()
        try:
            await self.flush()
        except Exception:
            # Shutting down with the database gone: say so, and lose at most a second.
            log.exception("final_telemetry_flush_failed")


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
