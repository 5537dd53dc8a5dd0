"""freeze_startup_objects: what is alive at start-up leaves the collector's scans; garbage
is collected first, not frozen with it."""

from __future__ import annotations

import gc
import weakref

from telepresence.platform.operations.collector import freeze_startup_objects


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


async def test_start_up_objects_are_frozen_and_garbage_is_not():
    kept = _Node()
    garbage = _Node()
    gone = weakref.ref(garbage)
    del garbage
    try:
        await freeze_startup_objects(None)
        assert gc.get_freeze_count() > 0
        assert gone() is None  # collected before the freeze, not kept for ever
        assert kept.me is kept
    finally:
        gc.unfreeze()  # the test run's other apps must stay collectable
