"""Validation of device socket messages before they touch anything."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from device_registry.protocol import (
    AckMessage,
    HeartbeatMessage,
    HelloMessage,
    parse_device_message,
)


def test_each_message_type_parses_to_its_model():
    hello = parse_device_message(
        json.dumps({"type": "hello", "protocol": [1], "model": "AV1", "software_version": "1.0"})
    )
    assert isinstance(hello, HelloMessage)
    beat = parse_device_message('{"type": "heartbeat", "seq": 3, "battery_pct": 50}')
    assert isinstance(beat, HeartbeatMessage)
    assert beat.network_type == "unknown"
    ack = parse_device_message('{"type": "ack", "command_id": "c1", "ok": false}')
    assert isinstance(ack, AckMessage)
    assert ack.detail == ""


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "heartbeat", "seq": -1}',
        '{"type": "heartbeat", "seq": 1, "battery_pct": 101}',
        '{"type": "heartbeat", "seq": 1, "signal_dbm": 20}',
        '{"type": "heartbeat", "seq": 1, "network_type": "carrier-pigeon"}',
        '{"type": "hello", "protocol": [], "model": "AV1", "software_version": "1"}',
        '{"type": "hello", "protocol": [1], "model": "", "software_version": "1"}',
        '{"type": "hello", "protocol": [1], "model": "AV1", "software_version": "1", '
        '"capabilities": ["laser"]}',
        '{"type": "ack", "command_id": "", "ok": true}',
        '{"type": "heartbeat", "seq": 1, "surprise": true}',
        '{"type": "nope"}',
        "[]",
        "not json",
    ],
)
def test_invalid_messages_are_refused(raw):
    with pytest.raises(ValidationError):
        parse_device_message(raw)
