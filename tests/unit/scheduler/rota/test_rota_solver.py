"""The solver's shortcuts give exactly what the long way gives.

A re-simulated timeline reuses the old tail once it rejoins it, an insertion
is weighed without building the list with it, walks follow the rule written
out, ranks stand for due order, and the naive safety-net greedy stops once it
cannot win: none of them may change a result.
"""

from datetime import timedelta
from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st
from rota_factories import assistant, at, draw_lessons, robot

from scheduler.rota.domain.assignment import assign_first_free
from scheduler.rota.domain.moves import AssignmentRules, Assistant, Move, derive_moves
from scheduler.rota.domain.solver import Solver
from scheduler.rota.domain.walking import RoomRef, WalkingRules, room_pair

ROOMS = [RoomRef(f"r{n}", "main" if n < 5 else "block", n % 2) for n in range(8)]
WALK = WalkingRules()
RULES = AssignmentRules()
EARLY = at("06:00")


@st.composite
def busy_days(draw: st.DrawFn) -> tuple[list[Move], list[Assistant]]:
    """Several robots changing rooms at the same bells, one or two assistants."""
    moves: list[Move] = []
    for r in range(draw(st.integers(2, 5))):
        device = f"robot{r}"
        lessons = draw_lessons(draw, device, ROOMS, least=2, most=6)
        moves.extend(derive_moves(robot(device, ROOMS[0]), lessons))
    people = [
        assistant(f"a{n}", "08:00", "16:00", draw(st.sampled_from([(), (("12:30", "13:00"),)])))
        for n in range(draw(st.integers(1, 2)))
    ]
    return moves, people


def solved(moves: list[Move], people: list[Assistant]) -> Solver:
    return Solver(moves, people, WALK, EARLY, RULES).start({}, set(), first_free=False)


@settings(max_examples=150, deadline=None)
@given(busy_days(), st.data())
def test_a_tail_that_rejoins_the_old_timeline_is_reused_unchanged(day, data):
    moves, people = day
    solver = solved(moves, people)
    lane = max(solver.lanes, key=lambda lane: len(lane.jobs))
    if len(lane.jobs) < 2:
        return
    pos = data.draw(st.integers(0, len(lane.jobs) - 1))
    rest = [*lane.jobs[:pos], *lane.jobs[pos + 1 :]]
    removed = solver.simulate(lane, rest, pos, shift=1)
    assert removed == solver.simulate(lane, rest, pos)
    strangers = [job for job in solver.jobs if job.lane is not lane]
    if not strangers:
        return
    stranger = data.draw(st.sampled_from(strangers))
    pushed = [*lane.jobs[:pos], stranger, *lane.jobs[pos:]]
    ceiling = data.draw(st.sampled_from([2**100, lane.cost + 10**9, lane.cost + 600]))
    assert solver.simulate(lane, pushed, pos, ceiling, -1) == solver.simulate(
        lane, pushed, pos, ceiling
    )


@settings(max_examples=150, deadline=None)
@given(busy_days())
def test_the_naive_greedy_stops_early_only_when_it_cannot_win(day):
    moves, people = day
    naive = assign_first_free(moves, people, WALK, now=EARLY)
    naive_key = (len(naive.unassigned), int(naive.total_lateness.total_seconds()))
    for beat in [naive_key, (naive_key[0], naive_key[1] + 1), (naive_key[0] + 1, 0)]:
        stopped = Solver(moves, people, WALK, EARLY, RULES)
        stopped.start({}, set(), first_free=True, beat=beat)
        if naive_key < beat:  # it could win, so it must run to the end
            assert stopped.lateness_key() == naive_key
        else:
            assert stopped.lateness_key() >= beat


@settings(max_examples=150, deadline=None)
@given(busy_days(), st.data())
def test_weighing_an_insertion_in_place_gives_the_timeline_of_the_list_with_it(day, data):
    moves, people = day
    solver = solved(moves, people)
    lane = data.draw(st.sampled_from(solver.lanes))
    strangers = [job for job in solver.jobs if job.lane is not lane]
    if not strangers:
        return
    stranger = data.draw(st.sampled_from(strangers))
    pos = data.draw(st.integers(0, len(lane.jobs)))
    ceiling = data.draw(st.sampled_from([2**100, lane.cost + 10**9, lane.cost + 600]))
    free, here = (lane.steps[pos - 1][1], lane.jobs[pos - 1].to) if pos else (-(2**62), lane.home)
    step = solver.reach(free, here, stranger, lane.segments)
    if step is None:
        return
    pushed = [*lane.jobs[:pos], stranger, *lane.jobs[pos:]]
    assert solver.simulate_insert(lane, stranger, pos, step, ceiling) == solver.simulate(
        lane, pushed, pos, ceiling
    )


def test_the_solver_walks_as_the_walking_rules_say_with_or_without_overrides():
    people = [assistant("a0", "08:00", "16:00")]
    for walking in [WALK, WalkingRules(overrides={room_pair("r0", "r6"): timedelta(minutes=1)})]:
        solver = Solver([], people, walking, EARLY, RULES)
        solver.rooms = {room.id: room for room in ROOMS}
        for a, b in product(ROOMS, ROOMS):
            assert solver.walk(a.id, b.id) == walking.seconds(a, b)


@settings(max_examples=100, deadline=None)
@given(busy_days())
def test_ranks_order_the_jobs_as_their_keys_do(day):
    moves, people = day
    jobs = Solver([*moves, *moves[:2]], people, WALK, EARLY, RULES).jobs  # with two twins
    for a, b in product(jobs, jobs):
        assert (a.rank < b.rank) == (a.key < b.key)
        assert (a.rank == b.rank) == (a.key == b.key)
