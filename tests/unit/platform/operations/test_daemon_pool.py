"""The daemon worker pool that lets a stopping process leave a long parse behind."""

from __future__ import annotations

import asyncio
import threading

import pytest

from telepresence.platform.operations.shutdown import DaemonThreadPool


def test_work_runs_on_daemon_threads_and_errors_reach_the_caller():
    pool = DaemonThreadPool(2)
    assert pool.submit(lambda: threading.current_thread().daemon).result(5) is True
    with pytest.raises(ValueError, match="bad"):
        pool.submit(int, "bad").result(5)
    pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(int, "1")


def test_no_more_threads_than_workers():
    pool = DaemonThreadPool(2)
    gate = threading.Event()
    futures = [pool.submit(gate.wait, 5) for _ in range(6)]
    names = {t.name for t in threading.enumerate() if t.name.startswith("classbridge-worker")}
    gate.set()
    assert all(f.result(5) for f in futures)
    assert len(names) == 2
    pool.shutdown()


async def test_asyncio_accepts_it_as_the_default_executor():
    loop = asyncio.get_running_loop()
    pool = DaemonThreadPool(1)
    loop.set_default_executor(pool)
    assert await asyncio.to_thread(sum, [1, 2, 3]) == 6
    pool.shutdown()
