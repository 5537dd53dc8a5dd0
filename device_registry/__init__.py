"""The device registry: robots and tablets, pairing, credentials, live telemetry."""

from device_registry.domain import Capability, Command, DeviceKind, Lifecycle

__all__ = ["Capability", "Command", "DeviceKind", "Lifecycle"]
