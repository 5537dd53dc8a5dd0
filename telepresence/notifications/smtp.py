"""Email out through an SMTP server with aiosmtplib (STARTTLS, implicit TLS or plain)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from telepresence.notifications.domain import MailFailed
from telepresence.platform.settings import Settings

__all__ = ["SmtpMailer"]


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
    ) -> None:
        if tls not in {"starttls", "tls", "none"}:
            raise ValueError("tls must be starttls, tls or none")
        self.host = host
        self.port = port
        self.tls = tls
        self.username = username
        self.password = password
        self.timeout = timeout

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
                username=self.username or None,
                password=self.password or None,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailFailed(f"{type(exc).__name__}: {exc}"[:300]) from exc
