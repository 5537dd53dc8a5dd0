"""A request aiohttp cannot parse is one info line, not an error with a traceback."""

from __future__ import annotations

import logging
import sys

from aiohttp.http_exceptions import BadHttpMessage

from telepresence.platform.operations.logging import BadRequestsAreInfo


def _record(exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        info = sys.exc_info()
    return logging.LogRecord(
        "aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s", ("x",), info
    )


def test_a_bad_http_message_becomes_one_info_line() -> None:
    record = _record(BadHttpMessage("Invalid header value char"))
    assert BadRequestsAreInfo().filter(record)
    assert record.levelno == logging.INFO
    assert record.exc_info is None
    assert "Invalid header value char" in record.getMessage()


def test_any_other_error_keeps_its_traceback() -> None:
    record = _record(RuntimeError("boom"))
    assert BadRequestsAreInfo().filter(record)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
