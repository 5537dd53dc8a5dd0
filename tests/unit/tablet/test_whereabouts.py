"""When the classroom robot is probably not in the lesson's room (pure rules)."""

from __future__ import annotations

from telepresence.tablet.whereabouts import probably_elsewhere


def test_no_room_named_or_nothing_known_gives_no_warning():
    assert probably_elsewhere("", last_room="S12", reported_room=None, move_status=None) is None
    assert probably_elsewhere("M4", last_room=None, reported_room=None, move_status=None) is None


def test_a_robot_last_known_in_the_room_is_there_whatever_the_case():
    assert (
        probably_elsewhere("Lab 3", last_room="lab 3", reported_room=None, move_status=None) is None
    )


def test_a_robot_last_known_elsewhere_with_no_move_planned():
    why = probably_elsewhere("M4", last_room="Library", reported_room=None, move_status=None)
    assert why == "it was last known in Library"


def test_a_move_not_confirmed_or_not_possible():
    assigned = probably_elsewhere("M4", last_room="S12", reported_room=None, move_status="assigned")
    assert assigned == "its move there was not confirmed; last known in S12"
    failed = probably_elsewhere(
        "M4", last_room=None, reported_room=None, move_status="failed", move_failure="not on site"
    )
    assert failed == "its move there could not be done (not on site)"


def test_a_move_not_confirmed_but_staff_put_the_robot_there_by_hand():
    assert (
        probably_elsewhere("M4", last_room="M4", reported_room=None, move_status="pending") is None
    )


def test_a_done_move_stands_unless_the_robot_says_otherwise():
    assert probably_elsewhere("M4", last_room="M4", reported_room=None, move_status="done") is None
    contradicted = probably_elsewhere(
        "M4",
        last_room="M4",
        reported_room=None,
        move_status="done",
        contradiction="confirmed in M4, but the device reports E7",
    )
    assert contradicted == "confirmed in M4, but the device reports E7"
    reported = probably_elsewhere("M4", last_room="M4", reported_room="E7", move_status="done")
    assert reported == "it reports being in E7"
