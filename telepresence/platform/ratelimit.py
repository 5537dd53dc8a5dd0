"""Guessing protection: a sliding-window limit per key (client address + purpose).

Per-process: with several instances each keeps its own window, so the
effective limit is multiplied by the instance count (documented in README).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import datetime

from telepresence.platform.errors import RateLimited

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``limit`` attempts per ``window_s`` seconds for each key; memory is bounded."""

    def __init__(self, limit: int, window_s: float = 60.0, max_keys: int = 50_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, key: str, now: datetime) -> None:
        """Record an attempt for ``key``; raise ``RateLimited`` past the limit."""
        t = now.timestamp()
        hits = self._hits.get(key)
        if hits is None:
            hits = deque()
            self._hits[key] = hits
            if len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= t - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            retry = int(hits[0] + self.window_s - t) + 1
            raise RateLimited(
                "Too many attempts from this address; wait a minute and try again.",
                retry_after=max(retry, 1),
            )
        hits.append(t)

    def reset(self, key: str) -> None:
        """Forget the attempts of ``key`` (after a successful login)."""
        self._hits.pop(key, None)
