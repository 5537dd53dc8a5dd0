"""A bounded shutdown: after SIGTERM the process ends within ``shutdown_seconds``.

What could hold a stopping process up, and what is done about each:

- Long-lived sockets: closed at once with 1001 by the composition root's
  ``on_shutdown`` hook, so robots and tablets reconnect (through the proxy,
  to another instance) while this one winds down.
- Request handlers: aiohttp waits for them ``shutdown_timeout``, cancels the
  request and waits as long again (``classbridge serve`` sets it to a quarter
  of ``shutdown_seconds``); a handler still waiting then is left behind and
  cancelled when the loop closes.
- Worker threads: ``asyncio.to_thread`` (timetable parsing, password hashing)
  runs on the loop's default executor, whose threads Python joins at exit, so
  a big import being parsed would keep a stopped process alive until it was
  done. The default executor here is a pool of daemon threads instead: the
  parse is pure, its result would only have been written in the request's
  own transaction (cancelled above), so dropping it changes nothing.
- Anything else (a job-store query on its thread, a stuck driver): a daemon
  timer ends the process at the deadline.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import structlog
from aiohttp import web

from telepresence.platform.http.context import SETTINGS

__all__ = ["DaemonThreadPool", "install_bounded_shutdown"]

log = structlog.get_logger("classbridge.shutdown")
P = ParamSpec("P")
T = TypeVar("T")
_Work = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonThreadPool(ThreadPoolExecutor):
    """At most ``workers`` daemon threads taking work from one queue; never joined at exit.

    A ``ThreadPoolExecutor`` only because asyncio accepts nothing else as the
    default executor: none of its machinery is used (its threads are joined
    at interpreter exit, which is the point of not using them).
    """

    def __init__(self, workers: int, name: str = "classbridge-worker") -> None:
        super().__init__(max_workers=workers, thread_name_prefix=name)
        self.workers = workers
        self.name = name
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._daemons: list[threading.Thread] = []
        self._idle = 0
        self._guard = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue ``fn(*args, **kwargs)``; a thread is started while fewer than ``workers`` run."""
        if self._closed:
            raise RuntimeError("cannot schedule new work after shutdown")
        future: Future[T] = Future()
        with self._guard:
            self._queue.put((future, fn, args, kwargs))
            if self._idle == 0 and len(self._daemons) < self.workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._daemons)}", daemon=True
                )
                self._daemons.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            with self._guard:
                self._idle += 1
            item = self._queue.get()
            with self._guard:
                self._idle -= 1
            if item is None:
                return
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # handed to the caller, as ThreadPoolExecutor does
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work; never waits for work in progress (the threads are daemons)."""
        self._closed = True
        for _ in self._daemons:
            self._queue.put(None)


def _hard_exit(seconds: float) -> None:
    log.warning("shutdown_deadline_reached", seconds=seconds)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


async def _daemon_executor(app: web.Application) -> None:
    workers = min(32, (os.cpu_count() or 1) + 4)  # ThreadPoolExecutor's own default
    asyncio.get_running_loop().set_default_executor(DaemonThreadPool(workers))


async def _start_deadline(app: web.Application) -> None:
    seconds = app[SETTINGS].shutdown_seconds
    timer = threading.Timer(seconds, _hard_exit, args=(seconds,))
    timer.daemon = True
    timer.start()
    log.info("shutting_down", within_seconds=seconds)


def install_bounded_shutdown(app: web.Application) -> None:
    """For ``classbridge serve``: daemon worker threads, and a hard deadline once stopping.

    Call before other ``on_shutdown`` hooks are added, so the deadline starts first.
    Tests that build apps in-process do not call it (it would end the test run).
    """
    app.on_startup.insert(0, _daemon_executor)
    app.on_shutdown.insert(0, _start_deadline)
