"""What a process holding device sockets makes good after an event bridge reconnects.

NOTIFY keeps nothing for a listener that is gone. After reconnecting, a bridge
delivers ``{"reconnected", "since"}`` on ``RESYNC_TOPIC`` to its own process and
asks the others (``{"asked_by"}``); ``DeviceResync`` answers for a ``LinkHub``:

- asked by anyone: announce again, 2,000 a flush tick, the devices held here
  (online, last seen, room on the fleet topic; the last battery reading on
  ``CHANGES_TOPIC`` for the rota);
- this process reconnected: hand over the commands to sockets here created since
  the connection was lost and not acknowledged (at most ``REDELIVER_WITHIN`` old),
  read from the database after LISTEN is back, so each comes by the read or by
  NOTIFY, and a command id is handed to a socket once whichever brings it; then
  the hub's ``missed_while_away`` (the service: devices that went offline).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from telepresence.platform.events.eventbridge import RESYNC_TOPIC

if TYPE_CHECKING:
    from device_registry.links import Link, LinkHub

__all__ = ["REANNOUNCE_PER_TICK", "REDELIVER_WITHIN", "DeviceResync"]

log = structlog.get_logger("classbridge.devices")
REDELIVER_WITHIN = timedelta(minutes=1)
"""A resync hands over no older command (an ``identify`` or ``restart`` asked for long
ago would only surprise)."""
REANNOUNCE_PER_TICK = 2_000
"""Devices announced again per flush tick (the bridge's outbox holds 5,000 fleet updates)."""
HANDED_KEPT = 1_000
"""Command ids remembered before the old ones (past twice ``REDELIVER_WITHIN``) are let go."""


class DeviceResync:
    """A ``LinkHub``'s answer to resyncs (see the module's text)."""

    def __init__(self, hub: LinkHub) -> None:
        self.hub = hub
        self.battery: dict[str, tuple[int, bool | None]] = {}
        """The last battery reading announced per device (pct, charging)."""
        self.redelivered = 0
        """Commands handed to sockets here by a resync."""
        self._reannounce: dict[str, Link] = {}
        self._handed: dict[str, float] = {}  # command id -> time.monotonic() handed over

    def handed(self, message: dict[str, Any]) -> bool:
        """Note a command handed over here; False if it was (by a resync or by NOTIFY)."""
        if message.get("type") != "command":
            return True
        command_id, now = str(message.get("command_id")), time.monotonic()
        if command_id in self._handed:
            return False
        if len(self._handed) >= HANDED_KEPT:
            keep = 2 * REDELIVER_WITHIN.total_seconds()
            self._handed = {k: t for k, t in self._handed.items() if now - t < keep}
        self._handed[command_id] = now
        return True

    async def run(self) -> None:
        """Answer resyncs until cancelled."""
        hub = self.hub
        async with hub.events.subscribe(RESYNC_TOPIC) as queue:
            while True:
                event = await queue.get()
                self._reannounce.update(hub.links())
                if "reconnected" not in event:
                    continue
                try:
                    since = datetime.fromisoformat(str(event["since"]))
                    await self.redeliver(since)
                    # The holders re-announce and write what changed within a flush or two.
                    await asyncio.sleep(2 * hub.flush_every)
                    await hub.missed_while_away(since)
                except Exception:
                    log.exception("device_resync_failed")

    async def redeliver(self, since: datetime) -> int:
        """Hand over the commands to sockets here whose NOTIFY was lost (since ``since``)."""
        hub = self.hub
        links = hub.links()
        since, sent = max(since, hub.clock.now() - REDELIVER_WITHIN), 0
        for command in await hub.store.pending_commands(list(links), since):
            link = links.get(str(command.pop("device_id")))
            if link is not None and not link.ws.closed and self.handed(command):
                await link.ws.send_json(command)
                sent += 1
        self.redelivered += sent
        return sent

    def reannounce(self) -> int:
        """Announce again (fleet pages, the rota) some of the devices a resync asked for."""
        from device_registry.links import CHANGES_TOPIC, fleet_topic  # links imports this

        hub, links = self.hub, self.hub.links()
        n = min(REANNOUNCE_PER_TICK, len(self._reannounce))
        due = [self._reannounce.popitem()[1] for _ in range(n)]
        for link in [lk for lk in due if links.get(lk.device_id) is lk]:
            seen, room = link.last_seen.isoformat(), link.room
            presence = {"device_id": link.device_id, "online": True, "last_seen_at": seen}
            hub.events.publish(fleet_topic(link.provider_id), presence | {"reported_room": room})
            if (battery := self.battery.get(link.device_id)) is not None:
                pct, charging = battery
                change = {"device_id": link.device_id, "battery_pct": pct, "charging": charging}
                hub.events.publish(CHANGES_TOPIC, change)
        return len(due)

    @property
    def pending(self) -> bool:
        """Whether devices wait to be announced again."""
        return bool(self._reannounce)
