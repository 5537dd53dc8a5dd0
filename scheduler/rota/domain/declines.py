"""Re-offering a move someone said they cannot do: never back to them (pure, no I/O).

The solver knows nothing of who declined what, so the planner's plan is
checked afterwards: a move given to someone who declined it is offered to
each other available assistant in turn (a trial pin), and the best trial
plan is kept by the planner's own objective (fewest unassigned moves, least
lateness, then the fairest spread). When nobody else can do it in time it is
left out of the plan and flagged with ``NOBODY_ELSE``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

from scheduler.rota.domain.moves import Assignment, Pin, Plan

__all__ = ["NOBODY_ELSE", "Solve", "respect_declines"]

NOBODY_ELSE = "nobody else on duty can do it in time"

Solve = Callable[[list[Pin], frozenset[str]], Plan]
"""Re-plan the day with these extra pins and without these moves."""


def _key(plan: Plan) -> tuple[int, timedelta, int]:
    return len(plan.unassigned), plan.total_lateness, plan.spread


def respect_declines(plan: Plan, declined: Mapping[str, frozenset[str]], solve: Solve) -> Plan:
    """``plan`` with every declined move given to someone who has not declined it, or flagged.

    ``declined`` maps move ids to the assistants who declined them; moves not
    in ``plan`` are ignored. Moves are looked at in due order, each choice
    kept (as a pin) while the later ones are made. Costs one ``solve`` per
    other assistant per move that went back to someone who declined it.
    """
    pins: list[Pin] = []
    dropped: set[str] = set()
    current = plan
    due = {a.move.id: a.move.latest for a in plan.assignments}
    for move_id in sorted((m for m in declined if m in due), key=lambda m: (due[m], m)):
        given = current.of(move_id).assistant_id
        if given is None or given not in declined[move_id]:
            continue
        best: tuple[tuple[int, timedelta, int], Pin, Plan] | None = None
        for candidate in current.assistant_ids:
            if candidate in declined[move_id]:
                continue
            pin = Pin(move_id, candidate)
            trial = solve([*pins, pin], frozenset(dropped))
            if trial.of(move_id).assistant_id == candidate and (
                best is None or _key(trial) < best[0]
            ):
                best = (_key(trial), pin, trial)
        if best is not None:
            pins.append(best[1])
            current = best[2]
        else:
            dropped.add(move_id)
            current = solve(pins, frozenset(dropped))
    if not dropped:
        return current
    flagged = tuple(Assignment(plan.of(m).move, None, reason=NOBODY_ELSE) for m in sorted(dropped))
    return Plan(current.assignments + flagged, current.assistant_ids)
