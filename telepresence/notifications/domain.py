"""Notifications without I/O: delivery outcomes, the email a notice becomes, retry delays."""

from __future__ import annotations

import enum
from email.message import EmailMessage

from telepresence.platform.errors import InvalidInput
from telepresence.platform.events.notifier import Notice

__all__ = ["EmailStatus", "MailFailed", "check_notice", "email_message", "retry_delays"]

MAX_KEY = 200


class EmailStatus(enum.StrEnum):
    """What became of a notice's email."""

    PENDING = "pending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    NOT_CONFIGURED = "not_configured"
    NO_ADDRESS = "no_address"


class MailFailed(Exception):
    """The SMTP server could not be reached or refused the message (may be retried)."""


def check_notice(notice: Notice) -> None:
    """Raise ``InvalidInput`` unless the notice has a key and someone to go to."""
    if not notice.idempotency_key or len(notice.idempotency_key) > MAX_KEY:
        raise InvalidInput(f"A notification needs an idempotency key of 1-{MAX_KEY} characters.")
    if notice.user_id is None and not notice.email:
        raise InvalidInput("A notification needs a user or an email address.")


def email_message(notice: Notice, sender: str, base_url: str) -> EmailMessage:
    """The plain-text email for ``notice`` (its link made absolute against ``base_url``)."""
    if notice.email is None:
        raise ValueError("the notice has no email address")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = notice.email
    message["Subject"] = notice.subject
    body = notice.body
    if notice.link:
        link = notice.link if "://" in notice.link else base_url.rstrip("/") + notice.link
        body = f"{body}\n\n{link}"
    message.set_content(body)
    return message


def retry_delays(attempts: int, first_seconds: float) -> list[float]:
    """Seconds to wait before each retry after the first try: doubling, ``attempts - 1`` of them."""
    return [first_seconds * 2**n for n in range(max(attempts - 1, 0))]
