"""What the registry's services need from the outside, as small protocols."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["DeviceLinks", "LessonInvitations"]


class DeviceLinks(Protocol):
    """The open device sockets of this process."""

    def is_connected(self, device_id: str) -> bool:
        """Whether the device has an open socket here."""
        ...

    async def send(self, device_id: str, message: dict[str, Any]) -> bool:
        """Send a message; False when the device is not connected here."""
        ...

    async def disconnect(self, device_id: str, code: int, reason: str) -> None:
        """Close the device's socket, if open here."""
        ...


class LessonInvitations(Protocol):
    """Live lessons, as the device socket needs them (implemented by the sessions package)."""

    def welcomed(self, device_id: str, session_id: str | None) -> None:
        """A device said hello naming the session it is in (or None); invite it where due.

        Must not wait: the work happens in the background.
        """
        ...

    async def rejoin(self, device_id: str, session_id: str) -> dict[str, Any]:
        """The message answering a device's ``session_rejoin``: an invite or a session end."""
        ...
