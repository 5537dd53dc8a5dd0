"""docs/protocol.md stays true to the protocol's models."""

from __future__ import annotations

import typing
from pathlib import Path

from device_registry.protocol import (
    CLOSE_AUTH,
    CLOSE_HELLO_TIMEOUT,
    CLOSE_REPLACED,
    CLOSE_RETIRED,
    CLOSE_VERSION,
    MAX_MESSAGE_BYTES,
    ErrorMessage,
    schema_markdown,
)

DOC = (Path(__file__).parents[3] / "docs" / "protocol.md").read_text()


def test_the_document_holds_the_current_schemas():
    assert schema_markdown().strip() in DOC


def test_the_document_names_every_close_code_and_limit():
    for code in (CLOSE_AUTH, CLOSE_RETIRED, CLOSE_HELLO_TIMEOUT, CLOSE_REPLACED, CLOSE_VERSION):
        assert f"| {code} |" in DOC
    assert f"{MAX_MESSAGE_BYTES:,}" in DOC


def test_the_document_names_every_error_code():
    codes = typing.get_args(ErrorMessage.model_fields["code"].annotation)
    assert len(codes) == 7
    for code in codes:
        assert f"| `{code}` |" in DOC


def test_the_document_holds_the_session_schemas_and_close_codes():
    from telepresence.sessions.call import protocol, signalling

    assert protocol.schema_markdown().strip() in DOC
    for code in (
        signalling.CLOSE_AUTH,
        signalling.CLOSE_ENDED,
        signalling.CLOSE_REPLACED,
        signalling.CLOSE_JOIN_TIMEOUT,
        signalling.CLOSE_PROTOCOL,
    ):
        assert f"| {code} |" in DOC
    assert f"{protocol.MAX_FRAME_BYTES:,} bytes" in DOC
    assert f"{protocol.MAX_SDP_BYTES:,} bytes" in DOC
