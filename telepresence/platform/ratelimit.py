"""Guessing protection: a sliding-window limit of failed attempts per key.

Only failures count, so a whole school signing in from one address at 9:00 is
never locked out; a guesser is. Per-process: with several instances each keeps
its own window (documented in README).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import datetime

from telepresence.platform.errors import RateLimited

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most ``limit`` failures per ``window_s`` seconds for each key; memory is bounded."""

    def __init__(self, limit: int, window_s: float = 60.0, max_keys: int = 50_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, t: float) -> deque[float]:
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
        return hits

    def check(self, key: str, now: datetime) -> None:
        """Raise ``RateLimited`` if ``key`` has failed too often lately (records nothing)."""
        t = now.timestamp()
        hits = self._recent(key, t)
        if len(hits) >= self.limit:
            retry = int(hits[0] + self.window_s - t) + 1
            raise RateLimited(
                "Too many attempts from this address; wait a minute and try again.",
                retry_after=max(retry, 1),
            )

    def fail(self, key: str, now: datetime) -> None:
        """Record a failed attempt of ``key``."""
        t = now.timestamp()
        self._recent(key, t).append(t)

    def reset(self, key: str) -> None:
        """Forget the failures of ``key``."""
        self._hits.pop(key, None)
