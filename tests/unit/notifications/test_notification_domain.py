"""The notifications core: what a notice needs, the email it becomes, how retries wait."""

from __future__ import annotations

import pytest

from telepresence.notifications.domain import check_notice, email_message, retry_delays
from telepresence.platform.errors import InvalidInput
from telepresence.platform.events.notifier import Notice


def a_notice(**changes: object) -> Notice:
    fields: dict[str, object] = {
        "idempotency_key": "move-reminder:m1:u1",
        "kind": "move_reminder",
        "subject": "Move Robbie to Lab 3 by 10:05",
        "body": "Robot 'Robbie' from S12 to Lab 3 by 10:05 for Sam K.",
        "user_id": "u1",
        "email": "ann@school.example",
        "link": "/rota/today",
    }
    return Notice(**(fields | changes))  # type: ignore[arg-type]


def test_a_notice_needs_a_key_and_a_recipient() -> None:
    check_notice(a_notice())
    check_notice(a_notice(email=None))
    check_notice(a_notice(user_id=None))
    with pytest.raises(InvalidInput, match="user or an email"):
        check_notice(a_notice(user_id=None, email=None))
    with pytest.raises(InvalidInput, match="idempotency key"):
        check_notice(a_notice(idempotency_key=""))
    with pytest.raises(InvalidInput, match="idempotency key"):
        check_notice(a_notice(idempotency_key="k" * 201))


def test_the_email_carries_the_notice_and_an_absolute_link() -> None:
    message = email_message(a_notice(), "Classbridge <noreply@x.example>", "https://cb.example/")
    assert message["To"] == "ann@school.example"
    assert message["From"] == "Classbridge <noreply@x.example>"
    assert message["Subject"] == "Move Robbie to Lab 3 by 10:05"
    text = message.get_content()
    assert text.startswith("Robot 'Robbie' from S12 to Lab 3 by 10:05 for Sam K.")
    assert "https://cb.example/rota/today" in text
    absolute = email_message(a_notice(link="https://other.example/x"), "a@b.example", "https://cb")
    assert "https://other.example/x" in absolute.get_content()


def test_retries_wait_twice_as_long_each_time_and_are_bounded() -> None:
    assert retry_delays(1, 1.0) == []
    assert retry_delays(3, 1.0) == [1.0, 2.0]
    assert retry_delays(4, 0.5) == [0.5, 1.0, 2.0]
