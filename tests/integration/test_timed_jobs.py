"""Timed jobs on SQLite and PostgreSQL: dated jobs run once, survive restarts, one leader runs them.

Dated jobs fall due by the app's clock: most tests schedule a second or two
ahead; one moves the test clock forward instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from factories import OPERATOR, Org, seed_org
from smtp_server import Mailbox, smtp_server
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import create_async_engine

from telepresence.app import create_app
from telepresence.notifications.jobs import deliver_notice
from telepresence.notifications.models import Notification
from telepresence.platform.events.eventbridge import asyncpg_dsn
from telepresence.platform.http.context import DATABASE, JOBS
from telepresence.platform.jobs.jobstore import ScheduledJob, upsert_job
from telepresence.platform.jobs.runner import FIRST_RUN_WITHIN
from telepresence.platform.settings import Settings

CHECK = 0.2  # leader_check_seconds in these tests


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with smtp_server() as server:
        yield server


def running_jobs(settings: Settings, smtp_port: int | None = None) -> Settings:
    update: dict[str, object] = {"run_jobs": True, "leader_check_seconds": CHECK}
    if smtp_port is not None:
        update |= {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_tls": "none"}
    return settings.model_copy(update=update)


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> float:
    """Wait until ``check()`` holds; returns how long it took (fails after ``seconds``)."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > seconds:
            pytest.fail(f"not within {seconds} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def reminder(org: Org, key: str = "move-reminder:m1", email: str | None = None) -> dict[str, str]:
    kwargs = {
        "idempotency_key": key,
        "kind": "move_reminder",
        "subject": "Move Robbie to Lab 3 by 10:05",
        "body": "Robot 'Robbie' from S12 to Lab 3 by 10:05 for Sam K.",
        "user_id": org.users["assistant"].id,
    }
    return kwargs | ({"email": email} if email else {})


async def count(app, model) -> int:
    async with app[DATABASE].sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_dated_job_runs_once_at_its_time(aiohttp_client, settings, clock):
    client = await aiohttp_client(create_app(running_jobs(settings), clock=clock))
    org = await seed_org(client.app[DATABASE])
    jobs = client.app[JOBS]
    run_at = clock.now() + timedelta(seconds=1)
    await jobs.schedule_once("reminder:m1", deliver_notice, run_at, reminder(org))
    await asyncio.sleep(0.5)
    assert await count(client.app, Notification) == 0  # not before its time

    async def sent() -> bool:
        return await count(client.app, Notification) == 1

    await eventually(sent)
    await eventually(lambda: _none_left(client.app))
    await asyncio.sleep(3 * CHECK)  # several more scheduler rounds: still one
    assert await count(client.app, Notification) == 1
    health = await (await client.get("/healthz", headers=OPERATOR)).json()
    assert health["scheduler"]["status"] == "running"
    assert health["scheduler"]["leader"] is True


async def test_daily_upkeep_runs_soon_after_an_election_not_a_day_later(aiohttp_client, settings):
    client = await aiohttp_client(create_app(running_jobs(settings)))

    elected = datetime.now(UTC)

    async def scheduled() -> bool:  # the first look at the jobs after the election
        return any(j["id"] == "purge-audit" for j in client.app[JOBS].state()["jobs"])

    await eventually(scheduled)
    jobs = {j["id"]: j["next_run"] for j in client.app[JOBS].state()["jobs"]}
    for daily in ("purge-audit", "purge-rota", "rota-drain-rates", "purge-tokens"):
        first = datetime.fromisoformat(jobs[daily])
        assert first - elected <= timedelta(seconds=FIRST_RUN_WITHIN), daily
    # A frequent job keeps its own period.
    presence = datetime.fromisoformat(jobs["device-presence"]) - elected
    assert presence <= timedelta(seconds=settings.heartbeat_seconds)


async def test_a_job_falls_due_when_the_clock_is_moved_past_it(aiohttp_client, settings, clock):
    client = await aiohttp_client(create_app(running_jobs(settings), clock=clock))
    org = await seed_org(client.app[DATABASE])
    jobs = client.app[JOBS]
    reminder_at = clock.now() + timedelta(minutes=10)
    await jobs.schedule_once("reminder:m1", deliver_notice, reminder_at, reminder(org))
    await asyncio.sleep(4 * CHECK)
    assert await count(client.app, Notification) == 0
    clock.advance(timedelta(minutes=10))

    async def sent() -> bool:
        return await count(client.app, Notification) == 1

    took = await eventually(sent, seconds=3)
    assert took < 5 * CHECK  # at the next look at the table, not ten minutes later


async def _none_left(app) -> bool:
    return await count(app, ScheduledJob) == 0


async def test_scheduling_is_idempotent_by_job_id_and_cancel_forgets(
    aiohttp_client, settings, clock
):
    client = await aiohttp_client(create_app(running_jobs(settings), clock=clock))
    org = await seed_org(client.app[DATABASE])
    jobs = client.app[JOBS]
    soon = clock.now() + timedelta(seconds=0.8)
    for _ in range(2):
        await jobs.schedule_once("reminder:m1", deliver_notice, soon, reminder(org, "k1"))
    await jobs.schedule_once(
        "escalation:m1",
        "telepresence.notifications.jobs:deliver_notice",
        soon,
        reminder(org, "k2"),
    )
    assert await count(client.app, ScheduledJob) == 2
    assert await jobs.cancel("escalation:m1") is True
    assert await jobs.cancel("escalation:m1") is False
    await eventually(lambda: _none_left(client.app))
    await asyncio.sleep(3 * CHECK)
    async with client.app[DATABASE].sessions() as session:
        keys = (await session.scalars(select(Notification.idempotency_key))).all()
    assert keys == ["k1"]
    with pytest.raises(ValueError, match="aware"):
        await jobs.schedule_once("x", deliver_notice, soon.replace(tzinfo=None))
    with pytest.raises(ValueError, match="cannot import"):
        await jobs.schedule_once("x", "telepresence.nowhere:nothing", soon)


async def test_a_reminder_is_sent_once_even_if_its_job_fires_twice(
    aiohttp_client, settings, clock, smtp
):
    port, mailbox = smtp
    client = await aiohttp_client(create_app(running_jobs(settings, port), clock=clock))
    org = await seed_org(client.app[DATABASE])
    jobs = client.app[JOBS]
    kwargs = reminder(org, "move-reminder:m1", email="ann@school.example")
    at = clock.now() + timedelta(seconds=0.5)
    await jobs.schedule_once("reminder:m1:a", deliver_notice, at, kwargs)
    await jobs.schedule_once("reminder:m1:b", deliver_notice, at, kwargs)
    await eventually(lambda: _none_left(client.app))
    await asyncio.sleep(3 * CHECK)
    assert len(mailbox.messages) == 1
    assert await count(client.app, Notification) == 1


async def test_after_a_restart_no_job_is_lost_and_none_is_sent_twice(
    aiohttp_client, settings, clock, smtp
):
    port, mailbox = smtp
    config = running_jobs(settings, port)
    first = await aiohttp_client(create_app(config, clock=clock))
    org = await seed_org(first.app[DATABASE])
    jobs = first.app[JOBS]
    now = clock.now()
    email = "ann@school.example"
    await jobs.schedule_once(
        "due-after-restart", deliver_notice, now + timedelta(seconds=2), reminder(org, "k1", email)
    )
    await jobs.schedule_once("already-sent", deliver_notice, now, reminder(org, "k2", email))
    await eventually(lambda: _mailed(mailbox, 1))
    await first.close()  # the instance stops before "due-after-restart" is due

    # While no instance ran: one job fell due, one became too late to be useful,
    # and one had been started by the dead leader (after its email went out).
    engine = create_async_engine(settings.database_url)
    await upsert_job(
        engine,
        job_id="missed-while-down",
        func_ref="telepresence.notifications.jobs:deliver_notice",
        run_at=now - timedelta(seconds=30),
        kwargs=reminder(org, "k3", email),
        misfire_grace_seconds=600,
        now=now,
    )
    await upsert_job(
        engine,
        job_id="far-too-late",
        func_ref="telepresence.notifications.jobs:deliver_notice",
        run_at=now - timedelta(hours=2),
        kwargs=reminder(org, "k4", email),
        misfire_grace_seconds=600,
        now=now,
    )
    await upsert_job(
        engine,
        job_id="interrupted",
        func_ref="telepresence.notifications.jobs:deliver_notice",
        run_at=now - timedelta(seconds=5),
        kwargs=reminder(org, "k2", email),
        misfire_grace_seconds=600,
        now=now,
    )
    async with engine.begin() as conn:
        await conn.execute(
            update(ScheduledJob).where(ScheduledJob.id == "interrupted").values(fired_at=now)
        )
    await engine.dispose()

    second = await aiohttp_client(create_app(config, clock=clock))
    await eventually(lambda: _none_left(second.app))
    await asyncio.sleep(3 * CHECK)
    subjects_to = sorted(m["To"] for m in mailbox.messages)
    assert subjects_to == [email] * 3  # k2 before the restart; k1 and k3 after; k4 dropped
    async with second.app[DATABASE].sessions() as session:
        keys = sorted((await session.scalars(select(Notification.idempotency_key))).all())
    assert keys == ["k1", "k2", "k3"]


async def _mailed(mailbox: Mailbox, n: int) -> bool:
    return len(mailbox.messages) == n


async def test_one_instance_leads_and_another_takes_over_when_its_connection_dies(
    aiohttp_client, settings, clock
):
    config = running_jobs(settings)
    first = await aiohttp_client(create_app(config, clock=clock))
    a = first.app[JOBS]
    assert a.is_leader
    if first.app[DATABASE].dialect == "sqlite":
        # One instance by construction: it leads, without any lock.
        assert a.election.backend_pid is None
        health = await (await first.get("/healthz", headers=OPERATOR)).json()
        assert (health["scheduler"]["status"], health["scheduler"]["leader"]) == ("running", True)
        return
    second = await aiohttp_client(create_app(config, clock=clock))
    b = second.app[JOBS]
    await asyncio.sleep(3 * CHECK)
    assert (a.is_leader, b.is_leader) == (True, False)
    standby = await (await second.get("/healthz", headers=OPERATOR)).json()
    assert (standby["scheduler"]["status"], standby["scheduler"]["leader"]) == ("standby", False)

    org = await seed_org(first.app[DATABASE])
    admin = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", a.election.backend_pid)
    finally:
        await admin.close()

    async def b_leads() -> bool:
        return b.is_leader and not a.is_leader

    took = await eventually(b_leads, seconds=5)
    assert a.state()["status"] == "standby"  # its scheduler stopped with its lock
    print(f"takeover after the leader's connection died: {took:.2f} s")
    assert took < 10 * CHECK
    # The old leader, now a follower, schedules; the new leader runs it once.
    at = clock.now() + timedelta(seconds=0.3)
    await a.schedule_once("after-takeover", deliver_notice, at, reminder(org, "k9"))
    await eventually(lambda: _none_left(second.app))
    assert await count(second.app, Notification) == 1
    await asyncio.sleep(5 * CHECK)
    assert (a.is_leader, b.is_leader) == (False, True)  # no flapping back


async def test_an_instance_can_opt_out_of_running_jobs(aiohttp_client, settings, clock):
    client = await aiohttp_client(create_app(settings, clock=clock))  # run_jobs=False
    health = await (await client.get("/healthz", headers=OPERATOR)).json()
    assert health["scheduler"] == {"status": "disabled", "leader": False, "jobs": []}
