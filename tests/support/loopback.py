"""Test-only: make aioice gather 127.0.0.1 host candidates and nothing else.

aioice skips loopback when it lists host addresses, so two aiortc peers on one
machine would talk over the machine's other addresses; tests must talk only to
127.0.0.1. This patch lives in test code only (shared/WEBRTC.md).
"""

from __future__ import annotations

import aioice.ice


def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


def install() -> None:
    aioice.ice.get_host_addresses = loopback_only
