"""A room connection test's acknowledgement, read for people (issue 16)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from device_registry.models import DeviceCommandRecord
from device_registry.views import room_test

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def command(status: str, detail: str = "", age: timedelta = timedelta(seconds=20)):
    return DeviceCommandRecord(
        command="readiness_test",
        status=status,
        detail=detail,
        created_at=NOW - age,
        acked_at=NOW if status != "sent" else None,
    )


def test_a_done_test_reads_as_a_verdict_with_figures_and_the_room():
    figures = {"room": "Lab 3", "rtt_ms": 38.2, "loss_pct": 0.5, "bitrate_kbps": 900, "fps": 24.8}
    test = room_test(command("done", f"good: {json.dumps(figures)}"), NOW)
    assert test is not None
    assert (test.state, test.verdict_text, test.room) == ("done", "Good for lessons", "Lab 3")
    assert (test.rtt_ms, test.loss_pct, test.fps) == (38.2, 0.5, 24.8)


def test_running_failed_unanswered_and_none():
    assert room_test(None, NOW) is None
    running = room_test(command("sent"), NOW)
    assert running is not None
    assert running.state == "running"
    late = room_test(command("sent", age=timedelta(minutes=5)), NOW)
    assert late is not None
    assert (late.state, late.problem) == ("failed", "The device did not answer.")
    failed = room_test(command("failed", "readiness test failed: no camera to test with"), NOW)
    assert failed is not None
    assert (failed.state, failed.problem) == ("failed", "no camera to test with")
    garbled = room_test(command("done", "good: not json"), NOW)
    assert garbled is not None
    assert garbled.state == "failed"
