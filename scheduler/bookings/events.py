"""Implementations of :class:`scheduler.bookings.ports.BookingEvents`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from scheduler.bookings.ports import BookingEvent
from telepresence.platform.events.events import EventHub

__all__ = ["BOOKINGS_TOPIC", "CollectedBookingEvents", "HubBookingEvents", "pupil_topic"]

BOOKINGS_TOPIC = "bookings"


def pupil_topic(pupil_id: str) -> str:
    """The topic carrying one pupil's booking events (their tablet, their staff page)."""
    return f"bookings:pupil:{pupil_id}"


def _as_message(event: BookingEvent) -> dict[str, Any]:
    message = asdict(event)
    for name, value in message.items():
        if hasattr(value, "isoformat"):
            message[name] = value.isoformat()
    message["kind"] = event.kind.value
    return message


class HubBookingEvents:
    """Publishes booking events on the in-process :class:`EventHub` (bounded queues).

    Every event goes to :data:`BOOKINGS_TOPIC` and to the pupil's own topic.
    """

    def __init__(self, hub: EventHub) -> None:
        self._hub = hub

    def publish(self, events: Sequence[BookingEvent]) -> None:
        """Deliver each event, as a JSON-ready dict, to the current subscribers."""
        for event in events:
            message = _as_message(event)
            self._hub.publish(BOOKINGS_TOPIC, message)
            self._hub.publish(pupil_topic(event.pupil_id), message)


class CollectedBookingEvents:
    """Keeps every published event in ``events`` (for the CLI and tests)."""

    def __init__(self) -> None:
        self.events: list[BookingEvent] = []

    def publish(self, events: Sequence[BookingEvent]) -> None:
        """Append the events."""
        self.events.extend(events)
