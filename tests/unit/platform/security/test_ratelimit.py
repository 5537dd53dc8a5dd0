"""The sliding-window limiter of failed attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from telepresence.platform.errors import RateLimited
from telepresence.platform.security.ratelimit import RateLimiter

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_failures_are_limited_per_key_and_window():
    limiter = RateLimiter(limit=2, window_s=60)
    for seconds in (0, 1):
        limiter.check("a", T0 + timedelta(seconds=seconds))
        limiter.fail("a", T0 + timedelta(seconds=seconds))
    with pytest.raises(RateLimited) as refused:
        limiter.check("a", T0 + timedelta(seconds=2))
    assert refused.value.retry_after == 59
    limiter.check("b", T0 + timedelta(seconds=2))
    limiter.check("a", T0 + timedelta(seconds=61))


def test_successes_never_count():
    limiter = RateLimiter(limit=2)
    for _ in range(100):
        limiter.check("school-nat", T0)  # a hundred good sign-ins from one address


def test_reset_forgets_a_key():
    limiter = RateLimiter(limit=1)
    limiter.fail("a", T0)
    limiter.reset("a")
    limiter.check("a", T0)


def test_memory_is_bounded_by_evicting_the_oldest_keys():
    limiter = RateLimiter(limit=1, max_keys=100)
    for i in range(1000):
        limiter.fail(f"k{i}", T0)
    assert len(limiter._hits) == 100
    limiter.check("k0", T0)  # evicted long ago, so allowed again
