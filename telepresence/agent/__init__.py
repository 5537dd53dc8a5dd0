"""The device agent: runs on a robot or tablet and keeps its socket to the service."""

from telepresence.agent.client import AgentStopped, DeviceAgent
from telepresence.agent.hardware import Hardware, LinuxHardware, Reading, SyntheticHardware

__all__ = [
    "AgentStopped",
    "DeviceAgent",
    "Hardware",
    "LinuxHardware",
    "Reading",
    "SyntheticHardware",
]
