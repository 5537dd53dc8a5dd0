"""The robot's join and rejoin times, measured here and reported for the operators' metrics.

``join_first_frame``: from the invitation to the lesson's media connected;
``rejoin``: from losing the media to having it again (docs/protocol.md,
"Reporting join and rejoin times"). The peer connection's state reaches us
through the hardware's ``session_live`` (the privacy light), so the timer
wraps the hardware instead of reaching into the lesson.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from telepresence.agent.hardware import Hardware, Reading

__all__ = ["LessonTimer", "TimedHardware"]


class LessonTimer:
    """Turns "invited" and media up/down into durations handed to ``report``."""

    def __init__(self, report: Callable[[str, float], None]) -> None:
        self.report = report
        self.waiting_since: float | None = None
        self.measure = "join_first_frame"
        self.live = False

    def invited(self) -> None:
        """A lesson invitation arrived: the wait for its first media starts now."""
        self.waiting_since, self.measure, self.live = time.monotonic(), "join_first_frame", False

    def media(self, live: bool) -> None:
        """The lesson's media came up or went down."""
        if live and self.waiting_since is not None:
            seconds = time.monotonic() - self.waiting_since
            self.waiting_since = None
            self.report(self.measure, max(seconds, 0.001))
        elif not live and self.live and self.waiting_since is None:
            self.waiting_since, self.measure = time.monotonic(), "rejoin"
        self.live = live

    def ended(self) -> None:
        """The lesson is over: nothing is being waited for."""
        self.waiting_since, self.live = None, False


class TimedHardware:
    """The device's hardware, with the privacy light also telling the timer."""

    def __init__(self, hardware: Hardware, timer: LessonTimer) -> None:
        self.inner = hardware
        self.timer = timer

    def read(self) -> Reading:
        return self.inner.read()

    async def identify(self) -> str:
        return await self.inner.identify()

    async def restart(self) -> str:
        return await self.inner.restart()

    async def apply_settings(self, settings: dict[str, Any]) -> str:
        return await self.inner.apply_settings(settings)

    async def apply_control(self, control: str, detail: dict[str, Any]) -> str:
        return await self.inner.apply_control(control, detail)

    def session_live(self, live: bool) -> None:
        self.inner.session_live(live)
        self.timer.media(live)

    def pupil_camera(self, live: bool, frames: int) -> None:
        self.inner.pupil_camera(live, frames)

    def watchers(self, names: list[str]) -> None:
        self.inner.watchers(names)

    def __getattr__(self, name: str) -> Any:
        # Anything else a particular device's hardware offers (and tests look at).
        return getattr(self.inner, name)
