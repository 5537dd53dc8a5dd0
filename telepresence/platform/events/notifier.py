"""What feature packages need to tell people something: a ``Notice`` and a ``Notifier``.

The notifications package implements ``Notifier`` (email and in-app); the
rota and other jobs depend only on this port, so they need not import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Notice", "Notifier"]


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to one person.

    ``idempotency_key`` names the occasion (e.g. ``move-reminder:<move id>:<user id>``):
    a second notice with the same key is not sent again. ``user_id`` (a
    signed-in user) gets it in the app; ``email`` gets it by email when SMTP
    is configured. At least one of them is needed.
    """

    idempotency_key: str
    kind: str
    subject: str
    body: str
    user_id: str | None = None
    email: str | None = None
    link: str | None = None


class Notifier(Protocol):
    """Sends notices; each key at most once."""

    async def notify(self, notice: Notice) -> bool:
        """Record and send ``notice``; False when its key was already used (nothing sent)."""
        ...
