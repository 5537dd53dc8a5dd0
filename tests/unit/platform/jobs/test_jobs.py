"""The job runner's pieces that need no database: the lock key, stored rows, opting out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from telepresence.platform.clock import SystemClock
from telepresence.platform.database import Database
from telepresence.platform.events.events import EventHub
from telepresence.platform.jobs.jobstore import DatabaseJobStore
from telepresence.platform.jobs.leader import LOCK_KEY
from telepresence.platform.jobs.runner import JobContext, JobRunner
from telepresence.platform.settings import Settings


def test_the_lock_key_never_changes() -> None:
    # Instances of two versions during a rolling deploy must compete for the same lock.
    assert LOCK_KEY == -584183368773742218


def row(func: str, run_at: datetime) -> SimpleNamespace:
    return SimpleNamespace(
        id="move-reminder:m1",
        func=func,
        kwargs={"idempotency_key": "k", "kind": "move_reminder", "subject": "s", "body": "b"},
        run_at=run_at,
        misfire_grace_seconds=600,
    )


def test_a_stored_row_becomes_a_job_with_the_context_first_and_plain_kwargs() -> None:
    context = object()
    store = DatabaseJobStore("sqlite+aiosqlite:///:memory:", context)
    run_at = datetime(2026, 11, 25, 9, 55, tzinfo=UTC)
    job = store._job(row("telepresence.notifications.jobs:deliver_notice", run_at))
    assert job is not None
    assert job.args == (context,)
    assert job.kwargs["idempotency_key"] == "k"
    assert (job.next_run_time, job.misfire_grace_time, job.coalesce) == (run_at, 600, True)
    assert job.func.__name__ == "deliver_notice"


def test_a_row_naming_a_missing_function_is_skipped_not_fatal() -> None:
    store = DatabaseJobStore("sqlite+aiosqlite:///:memory:", object())
    assert store._job(row("telepresence.nowhere:nothing", datetime.now(UTC))) is None


async def test_the_store_refuses_to_block_the_event_loop() -> None:
    store = DatabaseJobStore("sqlite+aiosqlite:///:memory:", object())
    with pytest.raises(RuntimeError, match="off the event loop"):
        store.get_next_run_time()


async def test_an_instance_that_opted_out_never_leads(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, run_jobs=False)
    database = Database(settings.effective_database_url)
    context = JobContext(
        settings=settings, database=database, clock=SystemClock(), events=EventHub()
    )
    runner = JobRunner(context, enabled=False)
    await runner.start()
    assert runner.state() == {"status": "disabled", "leader": False, "jobs": []}
    await runner.stop()
    await runner.stop()  # idempotent
    await database.close()
