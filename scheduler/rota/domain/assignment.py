"""Who carries which device when: assigning a school day's moves to its assistants (pure).

1. **Anchor** pins (and, when re-planning, the assignments that stand) on
   their assistant's timeline; a pin that no longer fits is flagged.
2. **Greedy by deadline**: the other moves in due order, each to the
   feasible assistant with the least marginal cost.
3. **Bounded local search**: relocate a move (to another assistant, or to
   another point of its assistant's day) or exchange it with another
   assistant's move while the objective strictly falls (an exchange's displaced
   move is always tried elsewhere, budget or not); any move it leaves
   unassigned that fits somewhere is then placed, so ``replan`` keeps the
   plan; then, for a day still in trouble, the naive first-free greedy is
   tried and kept if better.

The objective is lexicographic: unassigned moves, seconds of lateness, then
walking plus fairness. docs/rota.md explains the model and why this method.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from scheduler.rota.domain.moves import AssignmentRules, Assistant, Move, Pin, Plan
from scheduler.rota.domain.solver import Solver
from scheduler.rota.domain.walking import WalkingRules

__all__ = ["assign", "assign_first_free", "replan"]


def _start(
    moves: Sequence[Move],
    assistants: Sequence[Assistant],
    walking: WalkingRules,
    pins: Iterable[Pin],
    now: datetime,
    rules: AssignmentRules | None,
    *,
    first_free: bool = False,
    stands: Mapping[str, str] | None = None,
    order: Mapping[str, datetime] | None = None,
) -> Solver:
    """Anchor pins (and assignments that stand) and run the greedy."""
    pinned = {pin.move_id: pin.assistant_id for pin in pins}
    solver = Solver(moves, assistants, walking, now, rules or AssignmentRules())
    return solver.start(
        {**(stands or {}), **pinned}, set(pinned), first_free=first_free, order=order
    )


def _finish(solver: Solver) -> Plan:
    plan = solver.plan()
    solver.release()  # the solve's garbage goes now, not in a pass of the cyclic collector
    return plan


def assign(
    moves: Sequence[Move],
    assistants: Sequence[Assistant],
    walking: WalkingRules,
    pins: Iterable[Pin] = (),
    *,
    now: datetime,
    rules: AssignmentRules | None = None,
) -> Plan:
    """Assign one school day's moves to its assistants (see the module docstring).

    ``now`` (aware) is the earliest any assistant can set off. Pinned moves go
    to their assistant or are flagged with ``PINNED_ASSISTANT_CANNOT``; every
    other move is assigned or flagged with the reason nobody can do it
    (``NO_ASSISTANT_ON_DUTY``, ``REACHED_CAP``, ``NOBODY_FREE``). Never worse
    than ``assign_first_free`` in (unassigned moves, total lateness).
    """
    solver = _start(moves, assistants, walking, pins, now, rules)
    if solver.troubled():
        solver.improve()
    # Only a day still in trouble can be one where the naive greedy does better.
    if any(solver.needs_help(job) for job in solver.jobs):
        naive = Solver(moves, assistants, walking, now, solver.rules, solver)
        ours = solver.lateness_key()
        # It stops as soon as it cannot beat ours (then its key is no better either).
        naive.start(solver.anchored, solver.pinned, first_free=True, beat=ours)
        if naive.lateness_key() < ours:
            naive.improve()
            solver, naive = naive, solver
        naive.release()
    return _finish(solver)


def assign_first_free(
    moves: Sequence[Move],
    assistants: Sequence[Assistant],
    walking: WalkingRules,
    pins: Iterable[Pin] = (),
    *,
    now: datetime,
    rules: AssignmentRules | None = None,
) -> Plan:
    """The naive baseline: moves in due order, each to the first listed assistant who can.

    Same feasibility as ``assign`` (walking, duty, breaks, caps, pins), but no
    regard for lateness, distance or load. Kept for benchmarks and tests.
    """
    return _finish(_start(moves, assistants, walking, pins, now, rules, first_free=True))


def replan(
    previous: Plan,
    moves: Sequence[Move],
    assistants: Sequence[Assistant],
    walking: WalkingRules,
    pins: Iterable[Pin] = (),
    *,
    now: datetime,
    rules: AssignmentRules | None = None,
) -> Plan:
    """Re-plan a day after a change, touching only what the change affects.

    ``moves`` is the day's full, freshly derived list. A move that was in
    ``previous`` (same id, so unchanged) keeps its assistant as long as that
    assistant is still available and it still fits; new moves, moves that
    were unassigned and moves of assistants now absent are placed by the
    greedy and the local search, which move nothing else. Pins win over the
    previous plan.
    """
    kept = [a for a in previous.assignments if a.assistant_id]
    stands = {a.move.id: a.assistant_id for a in kept if a.assistant_id}
    order = {a.move.id: a.departs_at for a in kept if a.departs_at is not None}
    solver = _start(moves, assistants, walking, pins, now, rules, stands=stands, order=order)
    if solver.troubled():
        solver.improve()
    return _finish(solver)
