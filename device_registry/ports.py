"""What the registry's services need from the outside, as small protocols."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["DeviceLinks"]


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
