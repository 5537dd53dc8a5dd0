"""Minimum password strength: length, the common list, the person's own name."""

from __future__ import annotations

import pytest

from telepresence.platform.security.passwords import password_problems


@pytest.mark.parametrize(
    "weak",
    [
        "short",
        "password123",
        "Password1!",
        "qwertyuiop",
        "1234567890",
        "aaaaaaaaaaaa",
        "abababababab",
        "Summer2026",
        "classbridge1",
    ],
)
def test_weak_passwords_are_refused(weak: str) -> None:
    assert password_problems(weak) != []


def test_the_persons_own_name_or_email_is_refused() -> None:
    assert password_problems("ada-lovelace-99", email="ada@school.example", name="Ada L")
    assert password_problems("xx-lovelace-99", name="Ada Lovelace")


@pytest.mark.parametrize(
    "good", ["correct horse battery", "tram-violet-42-sea", "Ümlaut Ünicode 9"]
)
def test_reasonable_passwords_pass(good: str) -> None:
    assert password_problems(good, email="ada@school.example", name="Ada Lovelace") == []
