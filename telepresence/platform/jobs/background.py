"""Work a request starts but need not wait for (telling people by email, say).

The request answers at once; the work runs on the event loop, its failure is logged
(never "Task exception was never retrieved"), and shutdown gives it a bounded time to
finish before cancelling it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

__all__ = ["Background"]

log = structlog.get_logger("classbridge.background")


class Background:
    """A set of fire-and-forget tasks that are tracked, logged and drained at shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run ``work`` without waiting for it; an exception is logged with ``name``."""
        task = asyncio.get_running_loop().create_task(self._guarded(work, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background_failed", task=name)

    def __len__(self) -> int:
        return len(self._tasks)

    async def settled(self) -> None:
        """Wait until the work started so far is done (tests; shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, grace_seconds: float = 2.0) -> None:
        """Let running work finish for up to ``grace_seconds``, then cancel what is left."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("background_cancelled", tasks=len(pending))
            await asyncio.gather(*pending, return_exceptions=True)
