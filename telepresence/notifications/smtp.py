"""Email out through an SMTP server with aiosmtplib (STARTTLS, implicit TLS or plain).

With TLS the server's certificate and name are always verified, against the
system's CAs plus ``smtp_ca_file`` when set (a school's private CA);
verification is off only when ``smtp_verify_certificate`` is explicitly false.
``starttls`` insists on STARTTLS: a server that does not offer it is a
failure, never a silent fall-back to plain text.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from telepresence.notifications.domain import MailFailed
from telepresence.platform.settings import Settings

__all__ = ["SmtpMailer", "tls_context"]


def tls_context(ca_file: Path | None = None, *, verify: bool = True) -> ssl.SSLContext:
    """The client TLS context: system CAs plus ``ca_file``; no verification only if asked.

    Raises ``OSError`` or ``ssl.SSLError`` for a CA file that cannot be read.
    """
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SmtpMailer:
    """Sends one message per connection; raises ``MailFailed`` on any SMTP or network error."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: str = "starttls",
        username: str = "",
        password: str = "",
        timeout: float = 15.0,
        context: ssl.SSLContext | None = None,
    ) -> None:
        if tls not in {"starttls", "tls", "none"}:
            raise ValueError("tls must be starttls, tls or none")
        self.host = host
        self.port = port
        self.tls = tls
        self.username = username
        self.password = password
        self.timeout = timeout
        self.context = context or tls_context()

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer | None:
        """The configured mailer, or None when ``smtp_host`` is empty."""
        if not settings.smtp_host:
            return None
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=password,
            timeout=settings.smtp_timeout_seconds,
            context=tls_context(settings.smtp_ca_file, verify=settings.smtp_verify_certificate),
        )

    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` to the server (not to the mailbox: the server queues it)."""
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                use_tls=self.tls == "tls",
                start_tls=self.tls == "starttls",
                tls_context=self.context if self.tls != "none" else None,
                username=self.username or None,
                password=self.password or None,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailFailed(f"{type(exc).__name__}: {exc}"[:300]) from exc
