"""Notifications: email through SMTP and in-app messages, each sent at most once per key."""

from telepresence.notifications.services import NotificationService
from telepresence.notifications.smtp import SmtpMailer

__all__ = ["NotificationService", "SmtpMailer"]
