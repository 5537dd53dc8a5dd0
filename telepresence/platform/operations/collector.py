"""The garbage collector in a long-running process: what start-up loaded is never garbage."""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_objects"]


async def freeze_startup_objects(_app: object) -> None:
    """An ``on_startup`` hook: collect once, then move every object still alive (modules,
    models, routes, templates) out of the cyclic collector's scans (``gc.freeze``), which
    otherwise walk them all on every full collection (the engagement dashboard's term:
    docs/performance.md measured 288 -> 184 ms of its CPU; the gateway's sockets). Only in
    the processes that serve (``classbridge serve``, ``classbridge gateway``): a test run
    builds hundreds of apps, and frozen objects are never freed."""
    gc.collect()  # what is garbage now is not frozen with the rest
    gc.freeze()
