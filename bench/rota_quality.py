"""How good is the rota? Naive greedy vs Classbridge's assignment vs the exact optimum.

Run from the repository root with the project's venv, no arguments needed::

    .venv/bin/python bench/rota_quality.py
    .venv/bin/python bench/rota_quality.py --days 300 --seed 7 --max-moves 10

Generates realistic school days small enough to solve exactly: 2-3 robots in
a school of two or three buildings, 3-5 booked lessons each with 5-minute
changeovers, 1-3 assistants with staggered lunch breaks and sometimes a cap,
at most ``--max-moves`` moves. Each day is planned three ways:

- (a) ``assign_first_free``: moves in due order, each to the first listed
  assistant who can do it;
- (b) ``assign``: Classbridge's greedy + local search;
- (c) the exact optimum of (unassigned moves, total lateness): for every
  assistant and every subset of the moves, the best order is found by a
  dynamic programme over (subset, last move) keeping the Pareto front of
  (free at, lateness so far); then the subsets are split between the
  assistants by a second dynamic programme over subsets. It searches every
  order, not only the due-time order the heuristic keeps, and uses the same
  physics (the solver's own step function), so it is a true lower bound.

Reported per method: moves late, moves unassigned, total lateness and the
mean fairness spread. Goal: (b) never worse than (a) on any day in
(unassigned, lateness), and (b)'s total penalised lateness within 2% of (c)'s.
Penalised lateness counts an unassigned move as ``max_lateness`` + 1 minute.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rota_scale import LESSON, MONDAY, PERIODS, at, make_assistants, make_rooms

from scheduler.rota.domain.assignment import assign, assign_first_free
from scheduler.rota.domain.moves import (
    AssignmentRules,
    Assistant,
    BookedLesson,
    DeviceDay,
    Move,
    Plan,
    WalkingRules,
    derive,
)
from scheduler.rota.domain.solver import Solver, _Job

NEVER = -(2**62)
RULES = AssignmentRules()
PENALTY = int(RULES.max_lateness.total_seconds()) + 60


@dataclass
class Day:
    moves: list[Move]
    assistants: list[Assistant]


def make_day(rng: random.Random, n: int) -> Day:
    school = f"q{n}"
    rooms = make_rooms(rng, school)
    day = MONDAY + timedelta(days=rng.randrange(5))
    moves: list[Move] = []
    for p in range(rng.randint(2, 3)):
        device = f"{school}-robot{p}"
        periods = sorted(rng.sample(range(len(PERIODS)), rng.randint(3, 5)))
        lessons = []
        room = rng.choice(rooms)
        for period in periods:
            start = at(day, *PERIODS[period])
            room = room if rng.random() < 0.3 else rng.choice(rooms)
            lessons.append(BookedLesson(f"{device}-{period}", device, room, start, start + LESSON))
        battery = 40.0 if rng.random() < 0.2 else 100.0
        moves.extend(derive(DeviceDay(device, rooms[0], None, battery, 12.0), lessons).moves)
    assistants = [a for a in make_assistants(rng, school, day, rng.randint(1, 3)) if not a.absent]
    return Day(moves, assistants)


def exact(day: Day, walking: WalkingRules) -> tuple[int, int]:
    """The least (unassigned moves, seconds of lateness) over every assignment and order."""
    now = at(MONDAY, 0, 0)
    solver = Solver(day.moves, day.assistants, walking, now, RULES)
    jobs = solver.jobs
    full = (1 << len(jobs)) - 1
    best: dict[int, int] = {0: 0}  # subset done so far -> least lateness
    for lane in solver.lanes:
        own = lane_costs(solver, lane, jobs)
        merged: dict[int, int] = {}
        for done, late in best.items():
            rest = full ^ done
            sub = rest
            while True:
                extra = own.get(sub)
                if extra is not None:
                    key = done | sub
                    if late + extra < merged.get(key, 1 << 62):
                        merged[key] = late + extra
                if sub == 0:
                    break
                sub = (sub - 1) & rest
        best = merged
    return min(
        ((len(jobs) - bin(mask).count("1"), late) for mask, late in best.items()),
        key=lambda pair: (pair[0], pair[1]),
    )


def lane_costs(solver: Solver, lane: object, jobs: list[_Job]) -> dict[int, int]:
    """For each subset one assistant can do, in any order, its least total lateness."""
    segments = lane.segments  # type: ignore[attr-defined]
    cap = lane.cap  # type: ignore[attr-defined]
    home = lane.home  # type: ignore[attr-defined]
    # front[(mask, last)] = Pareto list of (free at, lateness)
    front: dict[tuple[int, int], list[tuple[int, int]]] = {}
    costs: dict[int, int] = {0: 0}
    layer: list[tuple[int, int]] = []
    for j, job in enumerate(jobs):
        step = solver.reach(NEVER, home, job, segments)
        if step is not None:
            front[1 << j, j] = [(step[1], step[2])]
            layer.append((1 << j, j))
    while layer:
        following: set[tuple[int, int]] = set()
        for mask, last in layer:
            pareto = front[mask, last]
            costs[mask] = min(costs.get(mask, 1 << 62), *(late for _, late in pareto))
            if cap is not None and bin(mask).count("1") >= cap:
                continue
            for j, job in enumerate(jobs):
                if mask >> j & 1:
                    continue
                for free, late in pareto:
                    step = solver.reach(free, jobs[last].to, job, segments)
                    if step is not None and add(
                        front, (mask | 1 << j, j), (step[1], late + step[2])
                    ):
                        following.add((mask | 1 << j, j))
        layer = list(following)
    return costs


def add(
    front: dict[tuple[int, int], list[tuple[int, int]]],
    key: tuple[int, int],
    point: tuple[int, int],
) -> bool:
    """Add ``point`` to the Pareto front at ``key`` unless dominated; whether it was added."""
    current = front.setdefault(key, [])
    if any(f <= point[0] and late <= point[1] for f, late in current):
        return False
    current[:] = [(f, late) for f, late in current if not (point[0] <= f and point[1] <= late)]
    current.append(point)
    return True


def score(plan: Plan) -> tuple[int, int, int, int]:
    """(unassigned, late moves, lateness seconds, spread)."""
    late_seconds = int(plan.total_lateness.total_seconds())
    return len(plan.unassigned), plan.late_count, late_seconds, plan.spread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--max-moves", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    walking = WalkingRules()
    now = at(MONDAY, 0, 0)
    rows = []
    worse = 0
    began = time.perf_counter()
    n = 0
    while len(rows) < args.days:
        n += 1
        day = make_day(rng, n)
        if not day.moves or len(day.moves) > args.max_moves or not day.assistants:
            continue
        naive = score(assign_first_free(day.moves, day.assistants, walking, now=now))
        ours = score(assign(day.moves, day.assistants, walking, now=now))
        best = exact(day, walking)
        worse += (ours[0], ours[2]) > (naive[0], naive[2])
        rows.append((naive, ours, best, len(day.moves)))
    elapsed = time.perf_counter() - began

    def penalised(unassigned: int, late_seconds: int) -> int:
        return unassigned * PENALTY + late_seconds

    totals = {
        "greedy": sum(penalised(r[0][0], r[0][2]) for r in rows),
        "classbridge": sum(penalised(r[1][0], r[1][2]) for r in rows),
        "optimum": sum(penalised(r[2][0], r[2][1]) for r in rows),
    }
    for name, index in (("greedy", 0), ("classbridge", 1)):
        unassigned = sum(r[index][0] for r in rows)
        late = sum(r[index][1] for r in rows)
        lateness = sum(r[index][2] for r in rows) / 60
        spread = statistics.mean(r[index][3] for r in rows)
        print(
            f"{name:12} unassigned {unassigned:4}  late {late:4}  lateness {lateness:7.1f} min"
            f"  mean spread {spread:.2f}  penalised {totals[name] / 60:.1f} min"
        )
    print(
        f"{'optimum':12} unassigned {sum(r[2][0] for r in rows):4}  late    -"
        f"  lateness {sum(r[2][1] for r in rows) / 60:7.1f} min"
        f"  penalised {totals['optimum'] / 60:.1f} min"
    )
    moves = sum(r[3] for r in rows)
    print(
        f"{len(rows)} days, {moves} moves, {elapsed:.1f} s;"
        f" days where ours is worse than greedy: {worse}"
    )
    gap = (totals["classbridge"] - totals["optimum"]) / max(totals["optimum"], 1)
    met = worse == 0 and gap <= 0.02
    print(
        json.dumps(
            {
                "bench": "rota_quality",
                "value": round(totals["classbridge"] / 60, 1),
                "baseline": round(totals["greedy"] / 60, 1),
                "optimum": round(totals["optimum"] / 60, 1),
                "ratio": round(totals["classbridge"] / max(totals["greedy"], 1), 3),
                "gap_to_optimum": round(gap, 4),
                "unit": "penalised lateness minutes",
                "goal": "never worse than greedy and within 2% of the optimum",
                "met": met,
                "days": len(rows),
                "days_worse_than_greedy": worse,
            }
        )
    )


if __name__ == "__main__":
    main()
