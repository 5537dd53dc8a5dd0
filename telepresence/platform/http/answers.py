"""Encoded answers kept in memory, each under the version of the data it was computed from.

A handler reads the version (one small query: ``telepresence.platform.versions``), asks
for the answer under it, and computes and keeps it when there is none. An answer is only
given for the very version it was computed under (no time-to-live: a change on any
instance is a new version at once) and before its ``until`` (answers that change with
the time, as "past" and "bookable" do). Bounded by the bytes kept, least recently read
first out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime

__all__ = ["AnswerCache"]

ENTRY_OVERHEAD = 200  # bytes of a key, a version and the dictionary's slot, roughly


class AnswerCache:
    """At most ``max_bytes`` of encoded answers; one larger than ``max_entry`` is not kept."""

    def __init__(self, max_bytes: int, max_entry: int = 256 * 1024) -> None:
        self.max_bytes = max_bytes
        self.max_entry = max_entry
        self.size = 0
        self._entries: OrderedDict[Hashable, tuple[Hashable, datetime | None, bytes]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, version: Hashable, now: datetime) -> bytes | None:
        """The answer kept for ``key`` under ``version`` and still valid at ``now``, or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        kept_version, until, body = entry
        if kept_version != version or (until is not None and now >= until):
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return body

    def put(self, key: Hashable, version: Hashable, until: datetime | None, body: bytes) -> None:
        """Keep ``body`` for ``key`` under ``version`` until ``until`` (None: while current)."""
        self._drop(key)
        cost = len(body) + ENTRY_OVERHEAD
        if cost > min(self.max_entry, self.max_bytes):
            return
        self._entries[key] = (version, until, body)
        self.size += cost
        while self.size > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.size -= len(entry[2]) + ENTRY_OVERHEAD
