"""Whether a pupil's offer would send video: the rule the signalling enforces."""

from __future__ import annotations

import pytest

from telepresence.sessions.domain import sends_video

HEAD = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
AUDIO = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendrecv\r\n"


def video(direction: str | None, port: int = 9) -> str:
    line = f"a={direction}\r\n" if direction else ""
    return f"m=video {port} UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n{line}a=rtpmap:96 VP8/90000\r\n"


@pytest.mark.parametrize(
    ("sdp", "sends"),
    [
        (HEAD + AUDIO, False),  # no video at all
        (HEAD + AUDIO + video("recvonly"), False),
        (HEAD + AUDIO + video("inactive"), False),
        (HEAD + AUDIO + video("sendrecv"), True),
        (HEAD + AUDIO + video("sendonly"), True),
        (HEAD + AUDIO + video(None), True),  # no direction: sendrecv (RFC 8866)
        (HEAD + "a=recvonly\r\n" + AUDIO + video(None), False),  # the session-level one
        (HEAD + "a=recvonly\r\n" + AUDIO + video("sendonly"), True),  # the section's wins
        (HEAD + AUDIO + video("sendrecv", port=0), True),  # bundle-only sections are live
        (HEAD + video("recvonly") + video("sendonly"), True),  # any video section counts
        (HEAD + "m=audio 9 RTP 0\r\na=sendonly\r\n" + video("recvonly"), False),
        ((HEAD + AUDIO + video("sendrecv")).replace("\r\n", "\n"), True),  # bare newlines
    ],
)
def test_sends_video(sdp: str, sends: bool) -> None:
    assert sends_video(sdp) is sends
