"""Reconnection delays for the agent's sockets and peer connections."""

from __future__ import annotations

import random

__all__ = ["full_jitter"]


def full_jitter(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)].

    Spreads a whole fleet's reconnections after a server restart.
    """
    return random.uniform(0, min(cap, base * 2**attempt))  # noqa: S311 (not for secrets)
