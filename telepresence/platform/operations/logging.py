"""Structured logs (JSON by default) carrying the request id of the current request."""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["REQUEST_ID", "BadRequestsAreInfo", "configure_logging", "request_id_middleware"]


class BadRequestsAreInfo(logging.Filter):
    """A request aiohttp cannot parse (a NUL in a header, a broken request line) is one line.

    It is the client's mistake or a scanner's probe, answered 400, not a fault of
    the service: aiohttp would log it as an error with its parser's traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and record.levelno >= logging.ERROR:
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = "bad_http_request: %s", (getattr(exc, "message", ""),)
            record.exc_info = record.exc_text = None
        return True


def configure_logging(level: str = "INFO", *, json_logs: bool = True) -> None:
    """Route stdlib and structlog output through one renderer on stderr."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, BadRequestsAreInfo) for f in server_log.filters):
        server_log.addFilter(BadRequestsAreInfo())
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = web.RequestKey("request_id", str)


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give each request an id (or keep a sane incoming ``X-Request-ID``) and log it."""
    incoming = request.headers.get("X-Request-ID", "")
    ok = 8 <= len(incoming) <= 40 and incoming.replace("-", "").isalnum()
    request_id = incoming if ok else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        return await handler(request)
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
