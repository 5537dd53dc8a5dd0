"""Pure rules of live sessions: the window, TURN credentials, message validation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from telepresence.sessions.call.protocol import OfferMessage, parse_client_message
from telepresence.sessions.domain import (
    Participant,
    TurnSettings,
    ice_servers,
    turn_credential,
    window_for,
)

START = datetime(2026, 3, 30, 8, 50, tzinfo=UTC)
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"


def test_the_window_opens_early_and_closes_after_a_grace():
    window = window_for(
        START,
        START + timedelta(minutes=50),
        join_before=timedelta(minutes=5),
        grace=timedelta(minutes=5),
    )
    assert not window.contains(START - timedelta(minutes=5, seconds=1))
    assert window.contains(START - timedelta(minutes=5))
    assert window.contains(START + timedelta(minutes=54, seconds=59))
    assert not window.contains(START + timedelta(minutes=55))
    assert window.explain(START - timedelta(minutes=20)) == (
        "This lesson opens for joining in 16 minute(s)."
    )
    assert window.explain(START + timedelta(hours=2)) == "This lesson has finished."
    with pytest.raises(ValueError, match="ends after"):
        window_for(START, START, join_before=timedelta(), grace=timedelta())


def test_turn_credentials_follow_the_turn_rest_scheme():
    expires = START + timedelta(hours=1)
    username, credential = turn_credential("s3cret", "sess1", expires)
    assert username == f"{int(expires.timestamp())}:sess1"
    expected = base64.b64encode(
        hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()
    ).decode()
    assert credential == expected


def test_ice_servers_are_only_what_the_operator_configured():
    assert ice_servers(TurnSettings(), "s", START) == []
    turn = TurnSettings(
        stun_urls=("stun:stun.school.example:3478",),
        turn_urls=("turns:turn.school.example:443?transport=tcp",),
        turn_secret="k",
    )
    servers = ice_servers(turn, "s", START)
    assert servers[0] == {"urls": ["stun:stun.school.example:3478"]}
    assert servers[1]["urls"] == ["turns:turn.school.example:443?transport=tcp"]
    assert str(servers[1]["username"]).endswith(":s")
    no_secret = TurnSettings(turn_urls=("turn:t.example",))
    assert ice_servers(no_secret, "s", START) == []


def test_participants_know_their_peer():
    assert Participant.PUPIL.peer is Participant.ROBOT
    assert Participant.ROBOT.peer is Participant.PUPIL


def test_a_real_offer_passes():
    message = parse_client_message(json.dumps({"type": "offer", "sdp": SDP, "id": "1"}))
    assert isinstance(message, OfferMessage)


@pytest.mark.parametrize(
    "sdp",
    [
        "",
        "hello",
        "v=0\r\nthis is not sdp\r\nm=audio 9 UDP 0",
        "v=0\r\no=- 1 1 IN IP4 x\r\n",
        "x=0\r\nm=audio 9 UDP 0",
        "v=0\r\n" + "a=x\r\n" * 4000 + "m=audio 9 UDP 0",
    ],
)
def test_bad_sdp_is_refused_before_anything_sees_it(sdp):
    with pytest.raises(ValidationError):
        parse_client_message(json.dumps({"type": "offer", "sdp": sdp}))


@pytest.mark.parametrize(
    "message",
    [
        {"type": "candidate", "candidate": "<script>alert(1)</script>"},
        {"type": "candidate", "candidate": "candidate:" + "1" * 700},
        {"type": "candidate", "candidate": "", "sdpMLineIndex": 99},
        {"type": "quality", "loss_pct": 140},
        {"type": "event", "kind": "control", "control": "self_destruct"},
        {"type": "event", "kind": "control", "detail": {str(i): i for i in range(20)}},
        {"type": "join", "token": "short"},
        {"type": "offer", "sdp": SDP, "extra": 1},
        {"type": "dance"},
    ],
)
def test_malformed_messages_are_refused(message):
    with pytest.raises(ValidationError):
        parse_client_message(json.dumps(message))
