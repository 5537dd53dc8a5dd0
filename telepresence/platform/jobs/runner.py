"""Timed jobs: APScheduler 3.x on the one instance that leads, with dated jobs in the database.

Two kinds of job, both importable coroutine functions taking a ``JobContext``:

- maintenance jobs every N seconds (``JobRunner.every``), kept in memory and
  registered again at every start;
- dated one-off jobs (``JobRunner.schedule_once``): a reminder before a move,
  an escalation, the morning rota. They live in the ``scheduled_jobs`` table,
  so any instance may schedule or cancel one and none is lost by a restart.

Only the elected leader (``telepresence.platform.jobs.leader``) runs a scheduler.
Its scheduling loop, which calls the job store synchronously, runs on one
worker thread; jobs themselves run on the service's event loop. A dated job
is deleted when it finishes; one cut short by a crash is run again by the
next leader, so jobs must be idempotent (notifications are, by their key).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from apscheduler.events import EVENT_JOB_ERROR
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.executors.base import run_coroutine_job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.util import obj_to_ref, ref_to_obj

from telepresence.platform.clock import Clock
from telepresence.platform.database import Database
from telepresence.platform.events.events import EventHub
from telepresence.platform.events.notifier import Notifier
from telepresence.platform.jobs.jobstore import (
    DatabaseJobStore,
    claim_job,
    delete_job,
    finish_job,
    rearm_interrupted,
    upsert_job,
)
from telepresence.platform.jobs.leader import LeaderElection
from telepresence.platform.operations.metrics import Metrics
from telepresence.platform.settings import Settings

__all__ = ["DATED", "JobContext", "JobRunner"]

log = structlog.get_logger("classbridge.jobs")
DATED = "dated"
FIRST_RUN_WITHIN = 300
"""Seconds after an election by which every periodic job has run once (or its period)."""
"""Alias of the database job store in the scheduler."""


@dataclass(frozen=True)
class JobContext:
    """What a job may use."""

    settings: Settings
    database: Database
    clock: Clock
    events: EventHub
    notifier: Notifier | None = None


Job = Callable[[JobContext], Awaitable[Any]]
DatedJob = Callable[..., Awaitable[Any]]


class _LoopExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """Runs coroutine jobs on the service's loop, submitted from the scheduler's thread.

    A dated job first claims its row (so it runs once even if two rounds or
    two schedulers find it due) and deletes it once it has run, unless a
    shutdown cancelled it: then the next leader runs it again.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        database: Database,
        store: DatabaseJobStore | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        super().__init__()
        self.loop = loop
        self.database = database
        self.store = store
        self.metrics = metrics

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        self._eventloop = self.loop

    async def _run(self, job: Any, run_times: list[datetime]) -> list[Any]:
        dated = job._jobstore_alias == DATED
        if dated and not await claim_job(self.database.engine, job.id, datetime.now(UTC)):
            return []  # already started elsewhere, or cancelled since it was found due
        events: list[Any] = await run_coroutine_job(
            job, job._jobstore_alias, run_times, self._logger.name
        )
        interrupted = any(
            e.code == EVENT_JOB_ERROR and isinstance(e.exception, asyncio.CancelledError)
            for e in events
        )
        if self.metrics is not None and not interrupted:
            # By function, never by id: a dated job's id names one move or booking.
            failed = any(e.code == EVENT_JOB_ERROR for e in events)
            self.metrics.job_ran(str(job.func_ref), ok=not failed)
        if dated and not interrupted:
            await finish_job(self.database.engine, job.id)
        return events

    def shutdown(self, wait: bool = True) -> None:
        # Cancelling runs the done callbacks at once, which edit the set: iterate a copy.
        for future in list(self._pending_futures):
            future.cancel()
        self._pending_futures.clear()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        def done(f: Any) -> None:
            self._pending_futures.discard(f)
            if self.store is not None:
                self.store.release(job.id)
            if f.cancelled():
                log.info("job_interrupted", job=job.id)  # a dated one runs again at the next start
                return
            try:
                events = f.result()
            except BaseException as exc:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, events)

        future = asyncio.run_coroutine_threadsafe(self._run(job, run_times), self.loop)
        future.add_done_callback(done)
        self._pending_futures.add(future)


class _ThreadedScheduler(AsyncIOScheduler):  # type: ignore[misc]
    """An ``AsyncIOScheduler`` whose job-store work runs on one worker thread.

    It also wakes at least every ``poll_seconds``, to see jobs that other
    instances added to the database since.
    """

    def __init__(self, *, poll_seconds: float, **options: Any) -> None:
        super().__init__(**options)
        self.poll_seconds = poll_seconds
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classbridge-jobs")
        self.snapshot: list[dict[str, str | None]] = []
        self._busy: asyncio.Future[float | None] | None = None
        self._again = False

    def _start_timer(self, wait_seconds: float | None) -> None:
        wait = self.poll_seconds if wait_seconds is None else min(wait_seconds, self.poll_seconds)
        super()._start_timer(wait)

    def wakeup(self) -> None:
        if self._eventloop is not None:
            self._eventloop.call_soon_threadsafe(self._wakeup_on_loop)

    def _wakeup_on_loop(self) -> None:
        if not self.running or self._eventloop is None:
            return
        self._stop_timer()
        if self._busy is not None:
            self._again = True
            return
        self._busy = self._eventloop.run_in_executor(self.thread, self._process_and_snapshot)
        self._busy.add_done_callback(self._processed)

    def _process_and_snapshot(self) -> float | None:
        wait: float | None = self._process_jobs()
        jobs = []
        for j in self.get_jobs(jobstore="default"):
            nxt = j.next_run_time.isoformat() if j.next_run_time else None
            jobs.append({"id": j.id, "next_run": nxt})
        store = self._jobstores.get(DATED)
        if store is not None:
            nxt = store.next_run.isoformat() if store.next_run else None
            jobs.append({"id": "dated-jobs", "next_run": nxt})
        self.snapshot = jobs
        return wait

    def _processed(self, future: asyncio.Future[float | None]) -> None:
        self._busy = None
        if future.cancelled():
            return
        wait: float | None = self.poll_seconds
        if (exc := future.exception()) is not None:
            log.error("job_store_failed", error=str(exc) or type(exc).__name__)
        else:
            wait = future.result()
        if self._again:
            self._again, wait = False, 0
        if self.running and self._eventloop is not None:
            self._start_timer(wait)

    async def stop(self, store: DatabaseJobStore) -> None:
        """Finish the round in progress, shut down, and close the store on its thread."""
        loop = asyncio.get_running_loop()
        self._again = False
        while self._busy is not None:
            await asyncio.wait([self._busy])
        if self.running:
            # Shut down on the loop now (not via call_soon): no round can start after this.
            BaseScheduler.shutdown(self, wait=False)
            self._stop_timer()
        await loop.run_in_executor(self.thread, store.close_on_thread)
        self.thread.shutdown(wait=False)


class JobRunner:
    """Runs the timed jobs while this instance leads; ``stop()`` is idempotent."""

    def __init__(
        self,
        context: JobContext,
        *,
        enabled: bool,
        retry_seconds: float = 5.0,
        poll_seconds: float = 5.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.context = context
        self.metrics = metrics
        self.enabled = enabled
        self.poll_seconds = poll_seconds
        self.election = LeaderElection(
            context.database.url,
            on_elected=self._elected,
            on_deposed=self._deposed,
            retry_seconds=retry_seconds,
        )
        self._jobs: list[tuple[str, Job, float]] = []
        self._scheduler: _ThreadedScheduler | None = None
        self._store: DatabaseJobStore | None = None
        self._started = False

    @property
    def is_leader(self) -> bool:
        """Whether this instance runs the timed jobs now."""
        return self.enabled and self.election.is_leader

    def every(self, seconds: float, job: Job, *, name: str) -> None:
        """Run ``job`` every ``seconds`` while leading (coalesced; a late run is not repeated)."""
        self._jobs.append((name, job, seconds))

    async def _run(self, name: str, job: Job) -> None:
        try:
            await job(self.context)
        except asyncio.CancelledError:
            # Shutting down mid-run: the job is idempotent and runs again next time.
            log.info("job_cancelled", job=name)
            return
        except Exception:
            # A failing job must not kill the scheduler; it is logged and retried next tick.
            log.exception("job_failed", job=name)
            ok = False
        else:
            ok = True
        if self.metrics is not None:
            self.metrics.job_ran(name, ok=ok)

    async def start(self) -> None:
        """Stand for election (when enabled); the scheduler starts when this instance leads."""
        if self.enabled and not self._started:
            self._started = True
            await self.election.start()

    async def _elected(self) -> None:
        rearmed = await rearm_interrupted(self.context.database.engine)
        if rearmed:
            log.warning("jobs_rearmed", count=rearmed)
        loop = asyncio.get_running_loop()
        scheduler = _ThreadedScheduler(
            poll_seconds=self.poll_seconds,
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        store = DatabaseJobStore(self.context.database.url, self.context, self.context.clock)
        executor = _LoopExecutor(loop, self.context.database, store, self.metrics)
        scheduler.add_executor(executor, "default")
        scheduler.add_jobstore(store, DATED)
        elected_at = datetime.now(UTC)
        for name, job, seconds in self._jobs:
            # Upkeep that runs every few hours or once a day also runs soon after an
            # election: an instance restarted more often than that would otherwise never.
            first = elected_at + timedelta(seconds=min(seconds, FIRST_RUN_WITHIN))
            scheduler.add_job(
                self._run,
                "interval",
                seconds=seconds,
                args=[name, job],
                id=name,
                misfire_grace_time=int(seconds),
                next_run_time=first,
            )
        self._scheduler, self._store = scheduler, store
        scheduler.start()

    async def _deposed(self) -> None:
        scheduler, store = self._scheduler, self._store
        self._scheduler = self._store = None
        if scheduler is not None and store is not None:
            await scheduler.stop(store)

    async def stop(self) -> None:
        """Stop leading and stop the scheduler without waiting for running jobs."""
        await self.election.close()

    async def schedule_once(
        self,
        job_id: str,
        func: DatedJob | str,
        run_at: datetime,
        kwargs: dict[str, Any] | None = None,
        *,
        misfire_grace_seconds: int | None = None,
    ) -> None:
        """Run ``func(context, **kwargs)`` once at ``run_at`` (aware), on whichever instance leads.

        Idempotent by ``job_id``: scheduling the same id again replaces its
        time and arguments. ``func`` is an importable coroutine function or
        its ``"module:name"`` path; ``kwargs`` must be JSON values. A job
        later than ``misfire_grace_seconds`` (default: the setting) is
        dropped with a warning rather than run. Raises ``ValueError`` for a
        naive ``run_at`` or a function that cannot be imported by name.
        """
        if run_at.tzinfo is None:
            raise ValueError("run_at must be an aware datetime")
        ref = func if isinstance(func, str) else obj_to_ref(func)
        try:
            ref_to_obj(ref)
        except LookupError as exc:
            raise ValueError(f"cannot import the job function {ref!r}") from exc
        grace = misfire_grace_seconds
        if grace is None:
            grace = self.context.settings.job_misfire_grace_seconds
        await upsert_job(
            self.context.database.engine,
            job_id=job_id,
            func_ref=ref,
            run_at=run_at,
            kwargs=dict(kwargs or {}),
            misfire_grace_seconds=grace,
            now=self.context.clock.now(),
        )
        if self._scheduler is not None:
            self._scheduler.wakeup()

    async def cancel(self, job_id: str) -> bool:
        """Forget a dated job; False when there was none (already run, or never scheduled)."""
        return await delete_job(self.context.database.engine, job_id)

    def state(self) -> dict[str, Any]:
        """For /healthz: whether jobs run here, whether this instance leads, what is next."""
        scheduler = self._scheduler
        running = bool(scheduler is not None and scheduler.running)
        if not self.enabled:
            status = "disabled"
        elif running:
            status = "running"
        else:
            status = "standby" if self._started else "stopped"
        jobs = list(scheduler.snapshot) if scheduler is not None and running else []
        return {"status": status, "leader": self.is_leader, "jobs": jobs}
