"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, a free port, its own thread.

Plain by default; with a server ``ssl.SSLContext`` it offers STARTTLS (and
requires it) or speaks implicit TLS, and with ``credentials`` it requires
AUTH (over TLS).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Mailbox:
    """An aiosmtpd handler that keeps what it receives; refuses the first ``refuse`` messages."""

    def __init__(self, refuse: int = 0) -> None:
        self.refuse = refuse
        self.attempts = 0
        self.messages: list[Message] = []
        self.logins: list[str] = []
        self.tls_seen: list[bool] = []
        self.sessions: list[SMTP] = []  # the server's connections (set by ``smtp_server``)

    def connections_open(self) -> int:
        return sum(1 for smtp in self.sessions if smtp.transport is not None)

    async def all_closed(self, timeout: float = 5.0) -> None:
        """Let the client's loop run until the server has seen every connection close.

        A client's TLS close goes on after ``send`` returns (close_notify both
        ways, then the socket): a test's loop that ends at once leaves the
        socket open for the garbage collector to report in a later test.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while self.connections_open():
            assert asyncio.get_running_loop().time() < deadline, "a connection never closed"
            await asyncio.sleep(0.01)

    async def handle_DATA(self, server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        self.attempts += 1
        self.tls_seen.append(server.transport.get_extra_info("ssl_object") is not None)
        if self.attempts <= self.refuse:
            return "451 Requested action aborted: try again later"
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


class Credentials:
    """An aiosmtpd authenticator accepting one login and password."""

    def __init__(self, mailbox: Mailbox, login: str, password: str) -> None:
        self.mailbox = mailbox
        self.login = login.encode()
        self.password = password.encode()

    def __call__(
        self, _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == self.login
            and data.password == self.password
        )
        if ok:
            self.mailbox.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)


class _Controller(Controller):
    """aiosmtpd's controller, stopped only once the connections it served have closed.

    ``Controller.stop`` ends the server's loop at once: a connection still
    closing then (a client that just quit, a TLS handshake just refused, the
    raw socket under STARTTLS, which ``SMTP.connection_lost`` closes a turn
    later) is left open, and the garbage collector reports it as an unclosed
    transport in whichever test it happens to run next.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        smtp: SMTP = super().factory()  # type: ignore[no-untyped-call]
        self.sessions.append(smtp)
        return smtp

    def stop(self, no_assert: bool = False) -> None:
        deadline = time.monotonic() + 5
        while any(smtp.transport is not None for smtp in self.sessions):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        # A few more turns of the server's loop for the closes scheduled by connection_lost.
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), self.loop).result(timeout=5)
        super().stop(no_assert)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A TLS server context with this certificate chain and key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@contextmanager
def smtp_server(
    refuse: int = 0,
    *,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    credentials: tuple[str, str] | None = None,
    port: int | None = None,
) -> Iterator[tuple[int, Mailbox]]:
    """A running server (port, mailbox) until the block ends (on ``port``, or a free one)."""
    mailbox = Mailbox(refuse)
    options: dict[str, Any] = {}
    if starttls is not None:
        options |= {"tls_context": starttls, "require_starttls": True}
    if implicit_tls is not None:
        options["ssl_context"] = implicit_tls
    if credentials is not None:
        options |= {
            "authenticator": Credentials(mailbox, *credentials),
            "auth_required": True,
            # aiosmtpd only counts STARTTLS as TLS: on implicit TLS it would never offer
            # AUTH (it warns about this setting; the test marks that warning expected).
            "auth_require_tls": implicit_tls is None,
        }
    controller = _Controller(mailbox, hostname="127.0.0.1", port=port or free_port(), **options)
    mailbox.sessions = controller.sessions
    controller.start()
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()
