"""Timed jobs: one APScheduler 3.x ``AsyncIOScheduler`` per process that runs jobs.

Jobs are importable coroutine functions with plain arguments; the runner
passes them the application's resources through ``JobContext``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from telepresence.platform.clock import Clock
from telepresence.platform.database import Database
from telepresence.platform.events import EventHub
from telepresence.platform.settings import Settings

__all__ = ["JobContext", "JobRunner"]

log = structlog.get_logger("classbridge.jobs")


@dataclass(frozen=True)
class JobContext:
    """What a job may use."""

    settings: Settings
    database: Database
    clock: Clock
    events: EventHub


Job = Callable[[JobContext], Awaitable[Any]]


class JobRunner:
    """Starts, lists and stops the process's timed jobs; ``stop()`` is idempotent."""

    def __init__(self, context: JobContext, *, enabled: bool) -> None:
        self.context = context
        self.enabled = enabled
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._jobs: list[tuple[str, Job, float]] = []

    def every(self, seconds: float, job: Job, *, name: str) -> None:
        """Run ``job`` every ``seconds`` (coalesced; a late run is not repeated)."""
        self._jobs.append((name, job, seconds))

    async def _run(self, name: str, job: Job) -> None:
        try:
            await job(self.context)
        except asyncio.CancelledError:
            # Shutting down mid-run: the job is idempotent and runs again next time.
            log.info("job_cancelled", job=name)
        except Exception:
            # A failing job must not kill the scheduler; it is logged and retried next tick.
            log.exception("job_failed", job=name)

    def start(self) -> None:
        """Schedule every registered job and start the scheduler (when enabled)."""
        if not self.enabled or self._scheduler.running:
            return
        for name, job, seconds in self._jobs:
            self._scheduler.add_job(
                self._run,
                "interval",
                seconds=seconds,
                args=[name, job],
                id=name,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(seconds),
            )
        self._scheduler.start()

    def stop(self) -> None:
        """Stop the scheduler without waiting for running jobs."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def state(self) -> dict[str, Any]:
        """For /healthz: whether jobs run here and what is scheduled next."""
        running = bool(self._scheduler.running)
        jobs = []
        if running:
            for j in self._scheduler.get_jobs():
                nxt = j.next_run_time.isoformat() if j.next_run_time else None
                jobs.append({"id": j.id, "next_run": nxt})
        status = "running" if running else ("disabled" if not self.enabled else "stopped")
        return {"status": status, "jobs": jobs}
