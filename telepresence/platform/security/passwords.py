"""Minimum strength of a new password: long enough, not common, not the person's own name.

Pure: no I/O beyond reading the shipped list once. The list is short on
purpose (the passwords a guesser tries first); length does the rest (see
docs/security.md for the arithmetic).
"""

from __future__ import annotations

import functools
from importlib.resources import files

__all__ = ["MIN_LENGTH", "password_problems"]

MIN_LENGTH = 10
MAX_LENGTH = 200


@functools.cache
def _common() -> frozenset[str]:
    text = (
        files("telepresence.platform.security").joinpath("common_passwords.txt").read_text("utf-8")
    )
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def password_problems(password: str, *, email: str = "", name: str = "") -> list[str]:
    """What is wrong with a proposed password (empty when it will do)."""
    if len(password) < MIN_LENGTH:
        return [f"use at least {MIN_LENGTH} characters"]
    if len(password) > MAX_LENGTH:
        return [f"use at most {MAX_LENGTH} characters"]
    folded = password.casefold()
    if folded in _common() or folded.rstrip("0123456789!") in _common():
        return ["this is one of the most common passwords; choose another"]
    if len(set(folded)) < 4:
        return ["use more different characters"]
    personal = {email.split("@", maxsplit=1)[0].casefold(), *(p.casefold() for p in name.split())}
    if any(len(p) >= 3 and p in folded for p in personal):
        return ["do not use your own name or email in your password"]
    return []
