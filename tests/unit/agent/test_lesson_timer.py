"""The robot's join and rejoin timer: what it reports for which media changes."""

from __future__ import annotations

import time

import pytest

from telepresence.agent.hardware import SyntheticHardware
from telepresence.agent.timings import LessonTimer, TimedHardware


@pytest.fixture
def reports() -> list[tuple[str, float]]:
    return []


@pytest.fixture
def timer(reports) -> LessonTimer:
    return LessonTimer(lambda measure, seconds: reports.append((measure, seconds)))


def test_the_first_media_of_a_lesson_reports_the_join(timer, reports, monkeypatch):
    clock = iter([100.0, 101.5])
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    timer.invited()
    timer.media(False)  # connecting
    timer.media(True)
    assert reports == [("join_first_frame", 1.5)]


def test_losing_and_regaining_the_media_reports_a_rejoin_once(timer, reports, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    timer.invited()
    timer.media(True)
    now[0] = 10.0
    timer.media(False)  # failed
    now[0] = 10.5
    timer.media(False)  # the new connection is connecting: still the same wait
    now[0] = 12.0
    timer.media(True)
    timer.media(True)
    assert reports == [("join_first_frame", 0.001), ("rejoin", 2.0)]


def test_nothing_is_reported_without_an_invitation_or_after_the_end(timer, reports):
    timer.media(False)
    timer.media(True)  # no invitation seen: a stray state change
    timer.invited()
    timer.ended()
    timer.media(True)
    assert reports == []


def test_the_timed_hardware_still_drives_the_privacy_light(timer, reports):
    inner = SyntheticHardware()
    hardware = TimedHardware(inner, timer)
    timer.invited()
    hardware.session_live(True)
    assert inner.live is True
    assert hardware.live is True  # the device's own attributes show through
    assert [measure for measure, _ in reports] == ["join_first_frame"]
