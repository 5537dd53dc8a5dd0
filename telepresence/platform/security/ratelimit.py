"""Guessing protection: a sliding-window limit of failed attempts per key.

Only failures count, so a whole school signing in from one address at 9:00 is
never locked out; a guesser is. An attempt is counted *before* its secret is
checked (``begin``) and forgotten again when it succeeds (``end``), so many
guesses sent at once cannot all be checked while none has failed yet.
Per-process: with several instances each keeps its own window (documented in
README and docs/security.md).
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
        self._pending: dict[str, int] = {}

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
        if len(hits) + self._pending.get(key, 0) >= self.limit:
            retry = int(hits[0] + self.window_s - t) + 1 if hits else 1
            raise RateLimited(
                "Too many attempts lately; wait a few minutes and try again.",
                retry_after=max(retry, 1),
            )

    def begin(self, key: str, now: datetime) -> None:
        """Count an attempt as under way (refused with ``RateLimited`` if over the limit)."""
        self.check(key, now)
        self._pending[key] = self._pending.get(key, 0) + 1

    def end(self, key: str, now: datetime, *, failed: bool) -> None:
        """The attempt begun for ``key`` is decided: a failure stays counted."""
        left = self._pending.get(key, 0) - 1
        if left > 0:
            self._pending[key] = left
        else:
            self._pending.pop(key, None)
        if failed:
            self.fail(key, now)

    def fail(self, key: str, now: datetime) -> None:
        """Record a failed attempt of ``key``."""
        t = now.timestamp()
        self._recent(key, t).append(t)

    def reset(self, key: str) -> None:
        """Forget the failures of ``key``."""
        self._hits.pop(key, None)
