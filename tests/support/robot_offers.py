"""Test-only: a ``classbridge agent`` that offers when a test asks it to.

With ``TEST_ROBOT_OFFER_FILE`` set, the agent's lesson watches that path; when
a test creates the file, the lesson takes the path it takes when its call has
``failed`` (``_reoffer_unless_offered``: no offer from the pupil within 2 s, so
the robot offers a fresh connection itself). The agent prints a line when it
offers and when the pupil's answer to that offer is applied, for the test to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any


def install() -> None:
    path = os.environ.get("TEST_ROBOT_OFFER_FILE")
    if not path:
        return
    from telepresence.agent.lesson import RobotLesson

    trigger = Path(path)
    run, apply_answer, offer = RobotLesson.run, RobotLesson._apply_answer, RobotLesson.offer

    async def watched_run(self: RobotLesson) -> None:
        watcher = asyncio.ensure_future(_watch(self, trigger))
        try:
            await run(self)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def printed_offer(self: RobotLesson) -> None:
        await offer(self)
        print(f"test: robot offered {self.offer_id}", flush=True)

    async def printed_apply(self: RobotLesson, message: dict[str, Any]) -> None:
        mine = self.offer_id
        await apply_answer(self, message)
        if mine is not None and message.get("offer_id") == mine and self.pc is not None:
            print(f"test: answer to {mine} applied ({self.pc.signalingState})", flush=True)

    RobotLesson.run = watched_run  # type: ignore[method-assign]
    RobotLesson.offer = printed_offer  # type: ignore[method-assign]
    RobotLesson._apply_answer = printed_apply  # type: ignore[method-assign]


async def _watch(lesson: Any, trigger: Path) -> None:
    while True:
        await asyncio.sleep(0.1)
        if trigger.exists() and lesson.pc is not None:
            trigger.unlink()
            print("test: the robot's call is taken as failed", flush=True)
            await lesson._reoffer_unless_offered(lesson.pc)
