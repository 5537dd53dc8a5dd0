"""The open device sockets of one process and their live telemetry, whatever stores it.

Heartbeats are frequent (10,000 devices at 15 s is ~670 a second), so they
are applied in memory and written behind, in one batch a second: the latest
state to ``devices`` and a downsampled sample to ``telemetry_samples``.
Going online is published at once; the database follows within a second.
The same tick looks for credentials revoked (on any instance) since the last
tick and closes their sockets, so revocation takes effect within a second
across instances without extra machinery.

``LinkHub`` holds that logic; writing is a ``TelemetryStore``'s: the service's
``DeviceHub`` writes through SQLAlchemy, the device gateway through asyncpg.
This module imports neither (the gateway stays small); it also names the event
topics device sockets speak on, which the gateway shares with the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from device_registry.delivery.resync import DeviceResync
from device_registry.domain import LiveTelemetry, sample_due
from device_registry.ports import LessonInvitations
from device_registry.protocol import CLOSE_AUTH, CLOSE_REPLACED

if TYPE_CHECKING:
    from aiohttp import web

    from telepresence.platform.clock import Clock
    from telepresence.platform.events.events import EventHub

__all__ = [
    "BATTERY_STEP",
    "CHANGES_TOPIC",
    "DISCONNECT_TOPIC",
    "FLEET_TOPICS",
    "LESSONS_TOPIC",
    "OUTBOX_TOPIC",
    "SAMPLE_EVERY",
    "Link",
    "LinkHub",
    "TelemetryStore",
    "Written",
    "change_key",
    "fleet_topic",
    "lessons_key",
    "reading_key",
    "refresh_seconds",
]

# The event topics device sockets speak on, in this process and across processes
# (the device gateway shares them with the service).

OUTBOX_TOPIC = "devices:outbox"
"""Service → device: ``{"device_id", "message"}``, delivered by whoever holds the socket."""
DISCONNECT_TOPIC = "devices:disconnect"
"""Service → device: ``{"device_id", "code", "reason"}``, closed by whoever holds the socket."""
LESSONS_TOPIC = "devices:lessons"
"""Gateway → service: a robot said hello (``{"device_id", "hello": session id or None}``) or
asked for a fresh session token (``{"device_id", "rejoin": session id}``)."""
CHANGES_TOPIC = "devices:changes"
"""Changes other packages act on (the rota): lifecycle set by staff, the room a device
reports when it differs from the last one it reported, and its battery when it enters
another ``BATTERY_STEP`` band or starts or stops charging (published after the reading
is written, so a listener reads it back)."""
BATTERY_STEP = 10


FLEET_TOPICS = "fleet:"
"""The prefix of the fleet pages' topics: live views, on demand (``EventHub.on_demand``)."""


def fleet_topic(provider_id: str) -> str:
    """The event topic of a provider's fleet page."""
    return f"{FLEET_TOPICS}{provider_id}"


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


def lessons_key(event: dict[str, Any]) -> tuple[str, str]:
    """What a question on ``LESSONS_TOPIC`` is about: a device's hello or its rejoin."""
    return str(event.get("device_id", "")), "rejoin" if "rejoin" in event else "hello"


def reading_key(t: LiveTelemetry) -> tuple[Any, ...]:
    """What of a reading is written at once when it changes: the battery's band
    (``BATTERY_STEP``), charging, the room and the network. The rest (the exact
    percentage, the signal) waits for the next refresh, at most ``refresh_every`` later."""
    band = None if t.battery_pct is None else t.battery_pct // BATTERY_STEP
    return band, t.charging, t.room, t.network_type


def refresh_seconds(heartbeat_seconds: float, offline_after_missed: int) -> float:
    """How old a device's written reading may get before an unchanged one is written again.

    The offline job (``jobs.mark_silent_devices_offline``) reads ``last_seen_at`` and allows
    ``heartbeat * missed`` seconds; a written reading is at most this plus one heartbeat
    plus a flush old. Half of what one missed heartbeat less leaves: with the defaults
    (15 s, 3) 15 s, so every second heartbeat is written (~30 s) and the stored
    ``last_seen_at`` is at most ~31 s old against 45 s allowed."""
    return min(30.0, max(0.0, heartbeat_seconds * (offline_after_missed - 1) / 2))


log = structlog.get_logger("classbridge.devices")
DELIVERY_QUEUE = 10_000
"""Messages waiting for this process's sockets (a morning's invitations come at once)."""
SAMPLE_EVERY = timedelta(minutes=1)
SWEEP_EVERY = 1.0
"""Seconds between passes over the links looking for silent devices."""


@dataclass(eq=False, slots=True)
class Link:
    """One open device socket (kept small: there may be 10,000 of them)."""

    ws: web.WebSocketResponse
    device_id: str
    provider_id: str
    last_seen: datetime
    room: str | None = None
    connected_at: datetime | None = None  # set by attach(); revocations before it spare it
    transport: asyncio.BaseTransport | None = None
    heard: float = field(default_factory=time.monotonic)
    """When a frame last came from the device (``time.monotonic()``; pongs count): set by
    ``LinkHub.hear``, which keeps the links in the order they were last heard."""
    pinged: float = 0.0
    """When the sweep pinged the silent device (0: not pinged since it was last heard)."""
    written_at: float = 0.0
    """When its reading was last queued for ``devices`` (``time.monotonic()``; 0: never)."""
    written: tuple[Any, ...] | None = None
    """What of that reading counts (``reading_key``): a change of it is written at once."""


@dataclass(frozen=True, slots=True)
class Written:
    """What a flush learnt from the database."""

    moved: dict[str, str]
    """Of the first rooms new sockets reported, those that differ from the stored ones."""
    revoked: dict[str, datetime]
    """Devices whose credentials were revoked since the time asked, and when (latest)."""


class TelemetryStore(Protocol):
    """Where presence and telemetry go, in one transaction a flush."""

    async def write(
        self,
        rows: list[dict[str, Any]],
        samples: list[dict[str, Any]],
        first_rooms: dict[str, str],
        revoked_since: datetime,
    ) -> Written:
        """Update ``devices`` (rows differ in their columns), insert the samples, compare the
        first rooms with the stored ones and read the revocations since ``revoked_since``."""
        ...

    async def record_ack(
        self, device_id: str, command_id: str, *, ok: bool, detail: str, now: datetime
    ) -> bool:
        """Store a device's acknowledgement; False if the command is not that device's."""
        ...

    async def pending_commands(
        self, device_ids: list[str], since: datetime
    ) -> list[dict[str, Any]]:
        """Unacknowledged commands to these devices since ``since``, oldest first, as the
        ``command`` message with its ``device_id``."""
        ...


class LinkHub:
    """Implements ``device_registry.ports.DeviceLinks``; ``close()`` is safe to call twice.

    ``shared``: other processes (instances, gateways) may hold device sockets, so
    a message or a disconnect for a device not here is handed to them over the
    event hub's bridge.
    """

    def __init__(
        self,
        store: TelemetryStore,
        clock: Clock,
        events: EventHub,
        *,
        flush_every: float = 1.0,
        keepalive: float = 20.0,
        refresh_every: float = 15.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.events = events
        self.flush_every = flush_every
        self.keepalive = keepalive
        """Silence (s) after which a device is pinged; unanswered for half that, it is dropped."""
        self.refresh_every = refresh_every
        """A reading that changed nothing that counts is written if the last written one is
        this old (s); ``refresh_seconds`` keeps ``last_seen_at`` fresh for offline detection."""
        self.shared = False
        # In the order the devices were last heard, the longest silent first (``hear``).
        self._links: dict[str, Link] = {}
        self._dirty: dict[str, LiveTelemetry] = {}
        # Readings that changed nothing that counts, written when the device leaves (or
        # replaced by its next reading, which is written once ``refresh_every`` has passed).
        self._held: dict[str, LiveTelemetry] = {}
        self._presence: dict[str, tuple[bool, datetime]] = {}
        self._described: dict[str, dict[str, str]] = {}
        self._last_sample: dict[str, datetime] = {}
        self._battery_band: dict[str, tuple[int, bool | None]] = {}
        # The first room each new socket reports, checked against the stored one at the
        # next flush (in one query for all of them): after a restart 10,000 devices report
        # the room they were in, and only a room that changed is news for the rota.
        self._first_rooms: dict[str, str] = {}
        self._revoked_since: datetime = clock.now()
        self._tasks: list[asyncio.Task[None]] = []
        # Set by the composition root: who invites a robot that says hello to its lesson.
        self.lessons: LessonInvitations | None = None
        self.resync = DeviceResync(self)
        """What this hub makes good after an event bridge reconnects (``delivery.resync``)."""

    def __len__(self) -> int:
        return len(self._links)

    def is_connected(self, device_id: str) -> bool:
        """Whether the device has an open socket in this process."""
        return device_id in self._links

    def reachable(self, device_id: str, online: bool) -> bool:
        """Whether a message can reach the device: its socket is here, or (shared) the
        database says it is online on another process (``online``, read by the caller),
        unless it just left here and that is not written yet."""
        if self.is_connected(device_id):
            return True
        pending = self._presence.get(device_id)
        if pending is not None and not pending[0]:
            return False
        return self.shared and online

    async def send(self, device_id: str, message: dict[str, Any]) -> bool:
        """Send a JSON message to a connected device; False when it is not here.

        Shared: a device not here is handed over to whoever holds it (True).
        """
        link = self._links.get(device_id)
        if link is None or link.ws.closed:
            if self.shared:
                self.events.publish(OUTBOX_TOPIC, {"device_id": device_id, "message": message})
                return True
            return False
        await link.ws.send_json(message)
        self.resync.handed(message)
        return True

    async def send_anywhere(self, device_id: str, message: dict[str, Any]) -> None:
        """Send to the device on whichever instance holds its socket (best effort)."""
        if not await self.send(device_id, message):
            self.events.publish(OUTBOX_TOPIC, {"device_id": device_id, "message": message})

    async def _deliver(self) -> None:
        # Messages and disconnects for devices whose socket may be here, from anywhere.
        topics = (OUTBOX_TOPIC, DISCONNECT_TOPIC)
        async with self.events.subscribe(*topics, size=DELIVERY_QUEUE) as queue:
            while True:
                item = await queue.get()
                link = self._links.get(str(item.get("device_id")))
                if link is None or link.ws.closed:
                    continue
                if "message" in item:
                    if self.resync.handed(item["message"]):
                        await link.ws.send_json(item["message"])
                else:
                    reason = str(item.get("reason", "")).encode()[:120]
                    await link.ws.close(code=int(item.get("code", CLOSE_AUTH)), message=reason)

    async def disconnect(self, device_id: str, code: int, reason: str) -> None:
        """Close the device's socket if it is open here (shared: wherever it is open)."""
        link = self._links.get(device_id)
        if link is not None:
            await link.ws.close(code=code, message=reason.encode()[:120])
        elif self.shared:
            self.events.publish(
                DISCONNECT_TOPIC, {"device_id": device_id, "code": code, "reason": reason}
            )

    async def attach(self, link: Link) -> None:
        """Register a socket, closing an older one of the same device."""
        old = self._links.pop(link.device_id, None)
        link.connected_at = link.connected_at or self.clock.now()
        link.heard = time.monotonic()
        self._links[link.device_id] = link  # last: just heard
        if old is not None and old is not link:
            await old.ws.close(code=CLOSE_REPLACED, message=b"connected again elsewhere")
        self._set_presence(link, online=True)

    def welcomed(self, device_id: str, session_id: str | None) -> None:
        """The device was welcomed naming the lesson session it is in: invite it where due."""
        if self.lessons is not None:
            self.lessons.welcomed(device_id, session_id)

    async def rejoin(self, device_id: str, session_id: str) -> dict[str, Any] | None:
        """The answer to a ``session_rejoin``, or None when it comes later (or never)."""
        if self.lessons is None:
            return None
        return await self.lessons.rejoin(device_id, session_id)

    async def acknowledge(self, device_id: str, command_id: str, *, ok: bool, detail: str) -> bool:
        """Record a command's outcome and tell whoever waits on the device; False if unknown."""
        now = self.clock.now()
        if not await self.store.record_ack(device_id, command_id, ok=ok, detail=detail, now=now):
            return False
        self.events.publish(f"device:{device_id}", {"command_id": command_id, "ok": ok})
        return True

    def hear(self, link: Link) -> None:
        """A frame came from the device: it is alive. Its link moves to the end of the
        links, so that the sweep finds the silent ones first and stops at the first that
        is not (instead of looking at all 10,000 each second)."""
        link.heard = time.monotonic()
        link.pinged = 0.0
        links = self._links
        if links.get(link.device_id) is link:
            del links[link.device_id]
            links[link.device_id] = link

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
            held = self._held.pop(link.device_id, None)
            if held is not None:
                self._dirty[link.device_id] = held
            self._set_presence(link, online=False)

    def report(self, link: Link, telemetry: LiveTelemetry) -> None:
        """Apply a heartbeat: in memory now, in the database on the next flush."""
        link.last_seen = telemetry.at
        key = reading_key(telemetry)
        now = time.monotonic()
        if (
            key != link.written
            or now - link.written_at >= self.refresh_every
            or sample_due(self._last_sample.get(link.device_id), telemetry.at, SAMPLE_EVERY)
        ):
            link.written, link.written_at = key, now
            self._dirty[link.device_id] = telemetry
            self._held.pop(link.device_id, None)
        else:
            self._held[link.device_id] = telemetry
        if telemetry.room and telemetry.room != link.room:
            first = link.room is None
            link.room = telemetry.room
            if first:
                self._first_rooms[link.device_id] = telemetry.room
            else:
                self.events.publish(
                    CHANGES_TOPIC, {"device_id": link.device_id, "reported_room": telemetry.room}
                )
        # The heartbeat, live, to fleet pages open here or on another instance (none open:
        # nothing built or sent; a page opened later is rendered from the database).
        topic = fleet_topic(link.provider_id)
        if self.events.wanted(topic):
            self.events.publish(
                topic,
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

    def _pending_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The rows and samples to write now, taking the pending state (not the rooms)."""
        presence, self._presence = self._presence, {}
        described, self._described = self._described, {}
        rows: dict[str, dict[str, Any]] = {
            device_id: {"id": device_id, "online": online, "last_seen_at": at}
            for device_id, (online, at) in presence.items()
        }
        for device_id, fields in described.items():
            rows.setdefault(device_id, {"id": device_id}).update(fields)
        samples = []
        links = self._links
        for device_id, t in self._dirty.items():
            reading = {
                "id": device_id,
                "online": device_id in links,  # a device that left is offline, with its last
                "last_seen_at": t.at,
                "battery_pct": t.battery_pct,
                "charging": t.charging,
                "signal_dbm": t.signal_dbm,
                "network_type": t.network_type.value,
                "reported_room": t.room,
            }
            row = rows.get(device_id)
            if row is None:
                rows[device_id] = reading
            else:
                row.update(reading)
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
        return list(rows.values()), samples

    async def flush(self) -> None:
        """Write pending presence and telemetry; close sockets of revoked credentials."""
        now = self.clock.now()
        rows, samples = self._pending_rows()
        dirty, self._dirty = self._dirty, {}
        first_rooms, self._first_rooms = self._first_rooms, {}
        written = await self.store.write(rows, samples, first_rooms, self._revoked_since)
        self._revoked_since = now - timedelta(seconds=self.flush_every)
        for device_id, room in written.moved.items():
            self.events.publish(CHANGES_TOPIC, {"device_id": device_id, "reported_room": room})
        self._announce_batteries(dirty)
        for device_id, when in written.revoked.items():
            link = self._links.get(device_id)
            # A socket opened after the revocation holds the new credential (pairing again
            # revokes the old one and issues a new one): it stays.
            if link is not None and (link.connected_at is None or link.connected_at <= when):
                await link.ws.close(code=CLOSE_AUTH, message=b"credential revoked")

    def links(self) -> dict[str, Link]:
        """The open links here by device (the hub's own dict: read, do not change)."""
        return self._links

    async def missed_while_away(self, since: datetime) -> None:
        """Tell subscribers here what the database knows they missed (the service's hub)."""

    def _announce_batteries(self, written: dict[str, LiveTelemetry]) -> None:
        for device_id, t in written.items():
            if t.battery_pct is None:
                continue
            band = (t.battery_pct // BATTERY_STEP, t.charging)
            self.resync.battery[device_id] = (t.battery_pct, t.charging)
            if self._battery_band.get(device_id) != band:
                self._battery_band[device_id] = band
                self.events.publish(
                    CHANGES_TOPIC,
                    {"device_id": device_id, "battery_pct": t.battery_pct, "charging": t.charging},
                )

    async def sweep(self, now: float | None = None) -> None:
        """Ping devices silent for ``keepalive`` seconds; drop those that stayed silent for
        half that again after the ping (as aiohttp's ``heartbeat=`` did, per socket: the
        transport is closed without a close frame, the device sees 1006 and goes offline).

        One pass over the silent links (they come first, ``hear``) instead of a timer
        reset per frame and socket."""
        now = time.monotonic() if now is None else now
        silent_since, grace = now - self.keepalive, self.keepalive / 2
        silent = []
        for lk in self._links.values():
            if lk.heard > silent_since:
                break  # this one and all after it were heard since
            silent.append(lk)
        for link in silent:
            if link.ws.closed:
                continue
            if not link.pinged:
                link.pinged = now
                try:
                    await link.ws.ping()
                except (ConnectionError, RuntimeError) as exc:
                    self._drop(link, f"ping failed: {exc}")
            elif now - link.pinged >= grace:
                self._drop(link, f"no pong after {grace:g} seconds")

    def _drop(self, link: Link, why: str) -> None:
        log.info("device_socket_silent", device=link.device_id, reason=why)
        if link.transport is not None:
            link.transport.close()  # the handler sees the socket end and detaches it

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            try:
                await self.sweep()
            except Exception:
                log.exception("device_sweep_failed")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_every)
            try:
                await self.flush()
            except Exception:
                # Keep flushing after a database hiccup; the next tick retries.
                log.exception("telemetry_flush_failed")
            if self.resync.pending:
                self.resync.reannounce()

    def start(self) -> None:
        """Start the write-behind loop, the delivery of messages from elsewhere and the sweep."""
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._run()),
                loop.create_task(self._deliver()),
                loop.create_task(self._sweep()),
                loop.create_task(self.resync.run()),
            ]

    async def close_sockets(self) -> None:
        """Close every device socket (1001: going away); the devices reconnect."""
        for link in list(self._links.values()):
            await link.ws.close(code=1001, message=b"server shutting down")

    async def close(self) -> None:
        """Stop the loops, close every socket (1001: going away) and flush once more."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.close_sockets()
        self._dirty.update(self._held)  # the readings held back are the latest: write them
        self._held.clear()
        try:
            await self.flush()
        except Exception:
            # Shutting down with the database gone: say so, and lose at most a second.
            log.exception("final_telemetry_flush_failed")
