"""The answer cache: an answer only under its version and before its end, bounded in bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from telepresence.platform.http.answers import ENTRY_OVERHEAD, AnswerCache

NOW = datetime(2025, 3, 10, 8, tzinfo=UTC)


def test_an_answer_is_given_under_its_own_version_only():
    cache = AnswerCache(max_bytes=10_000)
    cache.put("week", ("school", 1, 1), None, b"[1]")
    assert cache.get("week", ("school", 1, 1), NOW) == b"[1]"
    assert cache.get("week", ("school", 1, 2), NOW) is None  # the pupil's data changed
    assert cache.get("week", ("school", 1, 1), NOW) is None  # and the old one is gone
    assert len(cache) == 0
    assert cache.size == 0


def test_an_answer_ends_when_the_time_it_holds_until_comes():
    cache = AnswerCache(max_bytes=10_000)
    until = NOW + timedelta(minutes=50)
    cache.put("week", 1, until, b"[]")
    assert cache.get("week", 1, until - timedelta(microseconds=1)) == b"[]"
    assert cache.get("week", 1, until) is None


def test_the_bytes_kept_are_bounded_least_recently_read_first_out():
    body = b"x" * 1000
    cost = len(body) + ENTRY_OVERHEAD
    cache = AnswerCache(max_bytes=3 * cost)
    for n in range(3):
        cache.put(n, 0, None, body)
    assert cache.get(0, 0, NOW) == body  # read: 1 is now the least recently read
    cache.put(3, 0, None, body)
    assert len(cache) == 3
    assert cache.size == 3 * cost
    assert cache.get(1, 0, NOW) is None
    assert {k for k in range(4) if cache.get(k, 0, NOW) is not None} == {0, 2, 3}


def test_an_answer_larger_than_an_entry_may_be_is_not_kept():
    cache = AnswerCache(max_bytes=1_000_000, max_entry=1000)
    cache.put("year", 0, None, b"x" * 1000)
    assert len(cache) == 0
    assert cache.size == 0
    cache.put("week", 0, None, b"[]")
    cache.put("week", 0, None, b"[1]")  # replaced, counted once
    assert cache.size == 3 + ENTRY_OVERHEAD
