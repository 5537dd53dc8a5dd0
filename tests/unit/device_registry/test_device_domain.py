"""Pure rules of the device registry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_registry.domain import (
    PAIRING_ALPHABET,
    Lifecycle,
    LifecycleError,
    check_lifecycle_change,
    format_pairing_code,
    is_online,
    new_pairing_code,
    normalise_pairing_code,
    sample_due,
)

NOW = datetime(2026, 3, 29, 9, 0, tzinfo=UTC)


def test_pairing_codes_use_only_unambiguous_characters():
    codes = {new_pairing_code() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert len(code) == 8
        assert set(code) <= set(PAIRING_ALPHABET)
    assert not set("0O1IL5S8B") & set(PAIRING_ALPHABET)


@given(st.text(alphabet=PAIRING_ALPHABET, min_size=8, max_size=8))
def test_a_code_survives_formatting_and_sloppy_typing(code):
    shown = format_pairing_code(code)
    assert normalise_pairing_code(shown) == code
    assert normalise_pairing_code(f"  {shown.lower()} ") == code


@pytest.mark.parametrize("typed", ["", "ACDE", "ACDE-FGH0", "ACDEFGHJK", "ACDE_FGHJ", "ÀCDEFGHJ"])
def test_malformed_codes_are_not_codes(typed):
    assert normalise_pairing_code(typed) is None


def test_online_needs_a_socket_and_a_recent_heartbeat():
    seen = NOW - timedelta(seconds=44)
    assert is_online(True, seen, NOW, heartbeat_s=15, missed=3)
    assert not is_online(False, seen, NOW, heartbeat_s=15, missed=3)
    assert not is_online(True, NOW - timedelta(seconds=46), NOW, heartbeat_s=15, missed=3)
    assert not is_online(True, None, NOW, heartbeat_s=15, missed=3)


def test_retirement_is_final():
    check_lifecycle_change(Lifecycle.ACTIVE, Lifecycle.MAINTENANCE)
    check_lifecycle_change(Lifecycle.MAINTENANCE, Lifecycle.ACTIVE)
    check_lifecycle_change(Lifecycle.ACTIVE, Lifecycle.RETIRED)
    for target in (Lifecycle.ACTIVE, Lifecycle.MAINTENANCE):
        with pytest.raises(LifecycleError):
            check_lifecycle_change(Lifecycle.RETIRED, target)


def test_history_keeps_one_sample_a_minute():
    every = timedelta(minutes=1)
    assert sample_due(None, NOW, every)
    assert not sample_due(NOW, NOW + timedelta(seconds=59), every)
    assert sample_due(NOW, NOW + timedelta(seconds=60), every)


async def test_the_hub_tells_others_when_a_device_reports_a_new_room():
    from unittest.mock import MagicMock

    from device_registry.domain import LiveTelemetry, NetworkType
    from device_registry.hub import CHANGES_TOPIC, DeviceHub, Link
    from telepresence.platform.clock import FixedClock
    from telepresence.platform.events.events import EventHub

    events = EventHub()
    hub = DeviceHub(MagicMock(), FixedClock(NOW), events)
    link = Link(ws=MagicMock(), device_id="d1", provider_id="p1", last_seen=NOW)
    reading = LiveTelemetry(
        at=NOW,
        battery_pct=50,
        charging=False,
        signal_dbm=-60,
        network_type=NetworkType.WIFI,
        room="Lab 3",
    )
    async with events.subscribe(CHANGES_TOPIC) as changes:
        # The socket's first room is checked against the stored one at the next flush
        # (tests/integration/test_device_socket.py); a change after it is news at once.
        hub.report(link, reading)
        assert changes.empty()
        hub.report(link, reading)  # the same room again: nothing new to tell
        assert changes.empty()
        hub.report(link, replace(reading, room="Hall"))
        assert changes.get_nowait() == {"device_id": "d1", "reported_room": "Hall"}
        assert changes.empty()
