"""A move someone declined is re-offered to someone else, or flagged (hand-checked days)."""

from rota_factories import BASE, GYM, LAB3, S12, S14, assistant, at, move

from scheduler.rota.domain.assignment import assign
from scheduler.rota.domain.declines import NOBODY_ELSE, respect_declines
from scheduler.rota.domain.moves import Pin
from scheduler.rota.domain.walking import WalkingRules

WALK = WalkingRules()
NOW = at("08:00")


def day(moves, assistants, pins=()):
    def solve(extra, dropped):
        kept = [m for m in moves if m.id not in dropped]
        return assign(kept, assistants, WALK, [*pins, *extra], now=NOW)

    return solve


def test_a_declined_move_goes_to_the_other_assistant_and_the_rest_stays():
    near = move(S12, LAB3, "09:40", "09:45")
    later = move(S14, S12, "11:40", "11:45", device_id="rosie")
    team = [assistant("jo", location=S12), assistant("kim", location=GYM)]
    solve = day([near, later], team)
    plan = solve([], frozenset())
    assert plan.of(near.id).assistant_id == "jo"  # Jo starts next to it
    fixed = respect_declines(plan, {near.id: frozenset({"jo"})}, solve)
    assert fixed.of(near.id).assistant_id == "kim"
    assert fixed.of(near.id).reason is None
    assert fixed.of(later.id).assistant_id is not None


def test_a_move_everybody_declined_is_flagged_not_given_back():
    near = move(S12, LAB3, "09:40", "09:45")
    other = move(S14, S12, "11:40", "11:45", device_id="rosie")
    team = [assistant("jo"), assistant("kim")]
    solve = day([near, other], team)
    fixed = respect_declines(solve([], frozenset()), {near.id: frozenset({"jo", "kim"})}, solve)
    assert (fixed.of(near.id).assistant_id, fixed.of(near.id).reason) == (None, NOBODY_ELSE)
    assert fixed.of(other.id).assistant_id in {"jo", "kim"}
    assert len(fixed.assignments) == 2


def test_nobody_else_in_time_is_flagged():
    # Kim is on duty only from 10:00: too late for a move due at 09:45.
    near = move(S12, LAB3, "09:40", "09:45")
    team = [assistant("jo"), assistant("kim", start="10:00")]
    solve = day([near], team)
    fixed = respect_declines(solve([], frozenset()), {near.id: frozenset({"jo"})}, solve)
    assert (fixed.of(near.id).assistant_id, fixed.of(near.id).reason) == (None, NOBODY_ELSE)


def test_a_move_already_with_someone_else_is_left_alone():
    near = move(BASE, LAB3, "09:40", "09:45")
    team = [assistant("jo"), assistant("kim")]
    solve = day([near], team, pins=[Pin(near.id, "kim")])
    plan = solve([], frozenset())
    calls = []

    def counting(extra, dropped):
        calls.append(1)
        return solve(extra, dropped)

    assert respect_declines(plan, {near.id: frozenset({"jo"})}, counting) == plan
    assert calls == []
