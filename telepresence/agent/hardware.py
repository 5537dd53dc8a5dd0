"""The device's hardware as the agent sees it: readings in, commands out.

``SyntheticHardware`` stands in for a real robot in tests and demos;
``LinuxHardware`` reads the battery and network the OS reports. Media (camera,
microphone, speaker, head motors) join this interface with live sessions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import structlog

__all__ = ["Hardware", "LinuxHardware", "Reading", "SyntheticHardware"]

log = structlog.get_logger("classbridge.agent")


@dataclass(frozen=True)
class Reading:
    """One telemetry reading (None where the hardware cannot tell)."""

    battery_pct: int | None
    charging: bool | None
    signal_dbm: int | None
    network_type: str
    room: str | None = None


class Hardware(Protocol):
    """What the agent needs from a device."""

    def read(self) -> Reading:
        """The current battery and network state."""
        ...

    async def identify(self) -> str:
        """Blink the lights so someone can find the device; returns what happened."""
        ...

    async def restart(self) -> str:
        """Restart the device's software; returns what happened."""
        ...

    async def apply_settings(self, settings: dict[str, Any]) -> str:
        """Apply settings from the server; returns what happened."""
        ...

    async def apply_control(self, control: str, detail: dict[str, Any]) -> str:
        """Raise hand (head light), listening mode, head pan/tilt, volume; returns what it did."""
        ...

    def session_live(self, live: bool) -> None:
        """Show the class that a pupil is (or is no longer) connected: privacy light."""
        ...

    def pupil_camera(self, live: bool, frames: int) -> None:
        """Show the class that the pupil's camera is (or is no longer) live on the robot."""
        ...

    def watchers(self, names: list[str]) -> None:
        """Show the class who else watches through the server's relay (empty: nobody)."""
        ...


@dataclass
class SyntheticHardware:
    """A battery that drains in use and charges on its base, plus a log of actions."""

    battery: float = 87.0
    charging: bool = False
    drain_per_min: float = 1.0
    charge_per_min: float = 2.5
    signal_dbm: int = -55
    actions: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    hand_raised: bool = False
    listening: bool = False
    live: bool = False
    camera_live: bool = False
    watching: list[str] = field(default_factory=list)
    pan: int = 0
    tilt: int = 0
    volume: int = 70
    _last: float = field(default_factory=time.monotonic)

    def read(self) -> Reading:
        """Advance the battery model to now and report it."""
        now = time.monotonic()
        minutes = (now - self._last) / 60
        self._last = now
        if self.charging:
            self.battery = min(100.0, self.battery + self.charge_per_min * minutes)
            self.charging = self.battery < 100.0
        else:
            self.battery = max(0.0, self.battery - self.drain_per_min * minutes)
            self.charging = self.battery < 15.0  # an assistant puts it on its base
        return Reading(
            battery_pct=round(self.battery),
            charging=self.charging,
            signal_dbm=self.signal_dbm,
            network_type="wifi",
        )

    async def identify(self) -> str:
        """Pretend to blink the head lights."""
        self.actions.append("identify")
        log.info("hardware_identify")
        return "lights blinked"

    async def restart(self) -> str:
        """Pretend to restart."""
        self.actions.append("restart")
        log.info("hardware_restart")
        return "restart scheduled"

    async def apply_settings(self, settings: dict[str, Any]) -> str:
        """Keep the settings."""
        self.settings.update(settings)
        self.actions.append("update_settings")
        return f"applied {len(settings)} setting(s)"

    async def apply_control(self, control: str, detail: dict[str, Any]) -> str:
        """Change the synthetic head's state and log it."""
        if control in {"raise_hand", "lower_hand"}:
            self.hand_raised = control == "raise_hand"
            result = "head light flashing" if self.hand_raised else "head light off"
        elif control == "listening_mode":
            self.listening = bool(detail.get("on", True))
            result = "listening only" if self.listening else "speaking"
        elif control == "head":
            self.pan = max(-90, min(90, self.pan + int(detail.get("pan", 0))))
            self.tilt = max(-30, min(30, self.tilt + int(detail.get("tilt", 0))))
            result = f"head at pan {self.pan}, tilt {self.tilt}"
        elif control == "volume":
            self.volume = max(0, min(100, int(detail.get("level", self.volume))))
            result = f"volume {self.volume}"
        else:
            raise ValueError(f"unknown control {control!r}")
        self.actions.append(control)
        log.info("hardware_control", control=control, result=result)
        return result

    def session_live(self, live: bool) -> None:
        """The synthetic privacy light."""
        self.live = live
        log.info("hardware_live_light", on=live)

    def pupil_camera(self, live: bool, frames: int) -> None:
        """The synthetic "pupil's camera is live" indicator (``frames`` received so far)."""
        self.camera_live = live
        log.info("hardware_pupil_camera", on=live, frames=frames)

    def watchers(self, names: list[str]) -> None:
        """The synthetic "also watching" display: who watches through the relay."""
        self.watching = list(names)
        log.info("hardware_watchers", watchers=names)


class LinuxHardware(SyntheticHardware):
    """Battery from ``/sys/class/power_supply``, WiFi signal from ``/proc/net/wireless``."""

    def __init__(
        self,
        sys_root: Path = Path("/sys/class/power_supply"),
        wireless: Path = Path("/proc/net/wireless"),
    ) -> None:
        super().__init__()
        self.sys_root = sys_root
        self.wireless = wireless

    def read(self) -> Reading:
        """Real readings where the OS gives them; the synthetic model otherwise."""
        fallback = super().read()
        battery, charging = self._battery()
        signal = self._signal()
        return Reading(
            battery_pct=battery if battery is not None else fallback.battery_pct,
            charging=charging if battery is not None else fallback.charging,
            signal_dbm=signal,
            network_type="wifi" if signal is not None else "ethernet",
        )

    def _battery(self) -> tuple[int | None, bool | None]:
        for supply in sorted(self.sys_root.glob("BAT*")):
            try:
                capacity = int((supply / "capacity").read_text().strip())
                status = (supply / "status").read_text().strip()
            except (OSError, ValueError):
                continue
            return capacity, status in {"Charging", "Full"}
        return None, None

    def _signal(self) -> int | None:
        try:
            lines = self.wireless.read_text().splitlines()[2:]
        except OSError:
            return None
        for line in lines:
            parts = line.split()
            if len(parts) > 3:
                try:
                    return int(float(parts[3]))
                except ValueError:
                    continue
        return None
