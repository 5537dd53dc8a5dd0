"""Dated one-off jobs kept in the service's database: an APScheduler 3.x job store.

A row is a job: the dotted path of an importable coroutine function, its
keyword arguments as JSON (plain values only: nothing is pickled), when it is
due and how late it may still run. Any instance may add or cancel rows; only
the elected leader's scheduler reads and fires them.

APScheduler 3 calls job-store methods synchronously from its scheduling
loop. The leader's scheduler therefore runs that loop on one worker thread
(see ``telepresence.platform.jobs.runner``), and this store does its database work
there, on a private event loop and a one-connection engine of its own, so
the service's event loop never waits for a query (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import structlog
from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import JSON, Index, String, Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column

from telepresence.platform.clock import Clock
from telepresence.platform.database import Base

__all__ = [
    "MAX_ATTEMPTS",
    "DatabaseJobStore",
    "ScheduledJob",
    "claim_job",
    "delete_job",
    "finish_job",
    "rearm_interrupted",
    "upsert_job",
]

log = structlog.get_logger("classbridge.jobs")
T = TypeVar("T")
MAX_ATTEMPTS = 3
"""Times a job is started before a crash mid-run stops it being re-armed."""


class ScheduledJob(Base):
    """One dated job; deleted when it has run (``fired_at`` marks a run in progress)."""

    __tablename__ = "scheduled_jobs"
    __table_args__ = (Index("ix_scheduled_jobs_due", "fired_at", "run_at"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True)
    func: Mapped[str] = mapped_column(String(200))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_at: Mapped[datetime]
    misfire_grace_seconds: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0)
    fired_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


TABLE = cast(Table, ScheduledJob.__table__)


async def upsert_job(
    engine: AsyncEngine,
    *,
    job_id: str,
    func_ref: str,
    run_at: datetime,
    kwargs: dict[str, Any],
    misfire_grace_seconds: int | None,
    now: datetime,
) -> None:
    """Insert the job, or replace its time and arguments when ``job_id`` exists (re-arming it)."""
    values = {
        "id": job_id,
        "func": func_ref,
        "kwargs": kwargs,
        "run_at": run_at,
        "misfire_grace_seconds": misfire_grace_seconds,
        "attempts": 0,
        "fired_at": None,
        "created_at": now,
    }
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(TABLE).values(**values)
    changed = {k: insert.excluded[k] for k in values if k not in {"id", "created_at"}}
    async with engine.begin() as conn:
        await conn.execute(insert.on_conflict_do_update(index_elements=["id"], set_=changed))


async def rearm_interrupted(engine: AsyncEngine) -> int:
    """Make jobs that were started but never finished (the leader died mid-run) due again."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(TABLE)
            .where(TABLE.c.fired_at.is_not(None), TABLE.c.attempts < MAX_ATTEMPTS)
            .values(fired_at=None)
        )
    return int(result.rowcount)


async def delete_job(engine: AsyncEngine, job_id: str) -> bool:
    """Remove a job whether or not it has started; False when there was none."""
    async with engine.begin() as conn:
        result = await conn.execute(delete(TABLE).where(TABLE.c.id == job_id))
    return bool(result.rowcount)


async def claim_job(engine: AsyncEngine, job_id: str, now: datetime) -> bool:
    """Mark a due job started; False when another run (or a cancel) got there first."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(TABLE)
            .where(TABLE.c.id == job_id, TABLE.c.fired_at.is_(None))
            .values(fired_at=now, attempts=TABLE.c.attempts + 1)
        )
    return bool(result.rowcount)


async def finish_job(engine: AsyncEngine, job_id: str) -> None:
    """The job ran to its end (successfully or not): remove it for good."""
    async with engine.begin() as conn:
        await conn.execute(delete(TABLE).where(TABLE.c.id == job_id, TABLE.c.fired_at.is_not(None)))


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class DatabaseJobStore(BaseJobStore):  # type: ignore[misc]
    """APScheduler job store over ``scheduled_jobs``, used only on the scheduler's worker thread.

    Every job gets ``context`` as its first positional argument when it is
    loaded; only its keyword arguments are stored. Date triggers only.

    Stored times are the service clock's (``clock``); APScheduler counts in
    wall-clock time, so times are shifted by the difference on the way in
    and out. With the system clock that is nothing; with a test clock moved
    forward, jobs fall due as if that much time had passed.
    """

    def __init__(self, database_url: str, context: object, clock: Clock | None = None) -> None:
        super().__init__()
        self.database_url = database_url
        self.context = context
        self.clock = clock
        self.next_run: datetime | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engine: AsyncEngine | None = None
        self._thread: int | None = None
        self._lock = threading.Lock()
        self._handed: set[str] = set()

    # -- the worker thread's own loop and engine ------------------------------------

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        if _loop_running():
            work.close()
            raise RuntimeError("DatabaseJobStore blocks: use it off the event loop")
        if self._thread is None:
            self._thread = threading.get_ident()
            self._loop = asyncio.new_event_loop()
            self._engine = create_async_engine(self.database_url, pool_size=1, max_overflow=1)
        if threading.get_ident() != self._thread or self._loop is None:
            raise RuntimeError("DatabaseJobStore is used only from the scheduler's worker thread")
        return self._loop.run_until_complete(work)

    @property
    def engine(self) -> AsyncEngine:
        """The store's engine (created on the worker thread's first call)."""
        if self._engine is None:
            raise RuntimeError("the job store has not been used yet")
        return self._engine

    def close_on_thread(self) -> None:
        """Dispose of the engine and close the private loop (call on the worker thread)."""
        if self._loop is not None and self._engine is not None:
            self._loop.run_until_complete(self._engine.dispose())
            self._loop.close()
        self._loop = self._engine = None
        self._thread = None

    # -- rows to APScheduler jobs ------------------------------------------------------

    def _skew(self) -> timedelta:
        """How far the service clock is ahead of the wall clock."""
        return self.clock.now() - datetime.now(UTC) if self.clock else timedelta()

    def _job(self, row: Any, skew: timedelta = timedelta()) -> Job | None:
        run_at = row.run_at if row.run_at.tzinfo else row.run_at.replace(tzinfo=UTC)
        run_at -= skew
        state = {
            "version": 1,
            "id": row.id,
            "func": row.func,
            "trigger": DateTrigger(run_date=run_at, timezone=UTC),
            "executor": "default",
            "args": (self.context,),
            "kwargs": dict(row.kwargs),
            "name": row.func.rsplit(":", 1)[-1],
            "misfire_grace_time": row.misfire_grace_seconds,
            "coalesce": True,
            "max_instances": 1,
            "next_run_time": run_at,
        }
        job = Job.__new__(Job)
        try:
            job.__setstate__(state)
        except (LookupError, ValueError):
            log.exception("job_unloadable", job_id=row.id, func=row.func)
            return None
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        return job

    async def _select(self, *conditions: Any) -> list[Job]:
        query = select(TABLE).where(TABLE.c.fired_at.is_(None), *self._not_handed(), *conditions)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.order_by(TABLE.c.run_at))).all()
        skew = self._skew()
        jobs = [self._job(row, skew) for row in rows]
        return [j for j in jobs if j is not None]

    # -- the BaseJobStore interface (synchronous, worker thread only) ----------------

    def lookup_job(self, job_id: str) -> Job | None:
        jobs = self._run(self._select(TABLE.c.id == job_id))
        return jobs[0] if jobs else None

    def get_due_jobs(self, now: datetime) -> list[Job]:
        return self._run(self._select(TABLE.c.run_at <= now + self._skew()))

    def get_next_run_time(self) -> datetime | None:
        async def earliest() -> datetime | None:
            query = select(func.min(TABLE.c.run_at)).where(
                TABLE.c.fired_at.is_(None), *self._not_handed()
            )
            async with self.engine.connect() as conn:
                value: datetime | None = (await conn.execute(query)).scalar()
            if value is not None and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value

        self.next_run = self._run(earliest())
        return None if self.next_run is None else self.next_run - self._skew()

    def get_all_jobs(self) -> list[Job]:
        return self._run(self._select())

    def add_job(self, job: Job) -> None:
        if self.lookup_job(job.id) is not None:
            raise ConflictingIdError(job.id)
        self.update_job(job, must_exist=False)

    def update_job(self, job: Job, *, must_exist: bool = True) -> None:
        if not isinstance(job.trigger, DateTrigger):
            raise TypeError("the database job store keeps dated one-off jobs only")
        if must_exist and self.lookup_job(job.id) is None:
            raise JobLookupError(job.id)
        grace = job.misfire_grace_time
        self._run(
            upsert_job(
                self.engine,
                job_id=job.id,
                func_ref=job.func_ref,
                run_at=job.next_run_time + self._skew(),
                kwargs=dict(job.kwargs),
                misfire_grace_seconds=None if grace is None else int(grace),
                now=datetime.now(UTC) + self._skew(),
            )
        )

    def remove_job(self, job_id: str) -> None:
        """Called once a job is handed to the executor: hide it until ``release``.

        The executor claims the row when the job starts and deletes it when
        it ends (``claim_job``, ``finish_job``), on the service's loop, so a
        row is never deleted before its job has run.
        """
        with self._lock:
            self._handed.add(job_id)

    def release(self, job_id: str) -> None:
        """The executor is done with the job (thread-safe)."""
        with self._lock:
            self._handed.discard(job_id)

    def _not_handed(self) -> list[Any]:
        with self._lock:
            handed = list(self._handed)
        return [TABLE.c.id.not_in(handed)] if handed else []

    def remove_all_jobs(self) -> None:
        async def remove() -> None:
            async with self.engine.begin() as conn:
                await conn.execute(delete(TABLE))

        self._run(remove())
