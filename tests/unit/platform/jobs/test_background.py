"""Background work: logged when it fails, waited for, and cut short at shutdown."""

from __future__ import annotations

import asyncio

import structlog

from telepresence.platform.jobs.background import Background


async def test_a_failure_is_logged_and_the_rest_goes_on():
    work = Background()
    done: list[str] = []

    async def fails() -> None:
        raise RuntimeError("mail server said no")

    async def succeeds() -> None:
        done.append("ok")

    with structlog.testing.capture_logs() as logs:
        work.spawn(fails(), name="tell-school")
        work.spawn(succeeds(), name="other")
        await work.settled()
    assert done == ["ok"]
    assert [(e["event"], e["task"]) for e in logs] == [("background_failed", "tell-school")]
    assert len(work) == 0


async def test_close_waits_a_bounded_time_then_cancels():
    work = Background()
    finished: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0.01)
        finished.append("quick")

    async def stuck() -> None:
        await asyncio.Event().wait()

    work.spawn(quick(), name="quick")
    work.spawn(stuck(), name="stuck")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with structlog.testing.capture_logs() as logs:
        await work.close(grace_seconds=0.2)
    assert finished == ["quick"]
    assert 0.15 < loop.time() - started < 2
    assert [e["event"] for e in logs] == ["background_cancelled"]
    assert len(work) == 0
