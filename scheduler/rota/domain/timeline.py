"""Assistants' timelines and their simulation: the physics under the solver (pure).

A move becomes a ``_Job`` in integer seconds, an assistant a ``_Lane`` (their
duty stretches and the jobs they do, in order); ``Timelines`` simulates a
lane doing a sequence of jobs and finds the cheapest place to add one. The
greedy and the local search built on it are in ``scheduler.rota.domain.solver``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from scheduler.rota.domain.moves import AssignmentRules, Assistant, Move
from scheduler.rota.domain.walking import RoomRef, WalkingRules

__all__ = ["Timelines"]


_UNASSIGNED = 10**18  # per unassigned move: outweighs any lateness
_LATE = 10**9  # per second late: outweighs any walking and fairness
_NEVER = -(2**62)
_ANY = 2**100  # no ceiling on a cost
Step = tuple[int, int, int, int]  # departs, done, late (s), walked (s)


class _Job:
    """A move in integer seconds and where it sits; ``floor``: lateness nobody can avoid."""

    __slots__ = (
        "approach",
        "carry",
        "earliest",
        "floor",
        "frm",
        "hopeless",
        "key",
        "lane",
        "late",
        "latest",
        "limit",
        "movable",
        "move",
        "pinned",
        "rank",
        "step",
        "to",
        "tried",
    )

    def __init__(self, move: Move, approach: dict[str, int], carry: int, max_late: int) -> None:
        self.move = move
        self.approach = approach  # walking seconds from a room to ``frm``, shared per room
        earliest, latest = _stamps.get(move.earliest), _stamps.get(move.latest)
        if earliest is None:
            earliest = _stamp(move.earliest)
        if latest is None:
            latest = _stamp(move.latest)
        self.earliest, self.latest = earliest, latest
        self.limit = latest + max_late
        self.frm = frm = move.from_room.id
        self.to = to = move.to_room.id
        self.key = (latest, earliest, move.device_id, frm, to)  # due order
        self.rank = 0  # its place in due order, set once the day's jobs are sorted
        self.carry = carry
        floor = earliest + carry - latest
        self.floor = floor if floor > 0 else 0
        # As ``reset``, written out: a national week makes a quarter of a million jobs.
        self.lane: _Lane | None = None
        self.step: Step | None = None
        self.late = 0
        self.movable = True
        self.pinned = False
        self.hopeless: bool | None = None
        self.tried: int | None = None

    def reset(self) -> None:
        self.lane = None
        self.step = None  # its step on ``lane``
        self.late = 0
        self.movable = True
        self.pinned = False
        self.hopeless = None
        self.tried = None  # ``Timelines.changes`` when relocating it last failed

    def fresh(self) -> _Job:
        """The same move, not yet placed (for a second solve of the same day)."""
        job = _Job.__new__(_Job)
        job.move, job.approach, job.key, job.rank = self.move, self.approach, self.key, self.rank
        job.earliest, job.latest, job.limit = self.earliest, self.latest, self.limit
        job.frm, job.to, job.carry, job.floor = self.frm, self.to, self.carry, self.floor
        job.reset()
        return job


class _Lane:
    """One assistant's timeline: jobs in due-time order and their simulated steps."""

    __slots__ = ("acc", "cap", "cost", "home", "id", "jobs", "segments", "steps", "version")

    def __init__(self, assistant: Assistant, now: int) -> None:
        self.id = assistant.id
        self.home = assistant.location.id if assistant.location else None
        self.cap = assistant.max_moves
        segments = []
        for window in assistant.duty:
            if window.breaks:
                stretches = window.segments()
            else:
                stretches = ((window.starts_at, window.ends_at),)
            for start, end in stretches:
                begin, finish = _stamp(start), _stamp(end)
                begin = begin if begin > now else now
                if begin < finish:
                    segments.append((begin, finish))
        segments.sort()
        self.segments = segments
        self.reset()

    def reset(self) -> None:
        self.jobs: list[_Job] = []
        self.steps: list[Step] = []
        self.acc = [0]  # acc[i]: lateness and walking cost of the first i steps
        self.cost = 0
        self.version = 0

    def fresh(self) -> _Lane:
        """The same assistant with an empty day (for a second solve of the same day)."""
        lane = _Lane.__new__(_Lane)
        lane.id, lane.home, lane.cap, lane.segments = self.id, self.home, self.cap, self.segments
        lane.reset()
        return lane


# A simulated timeline: its steps, their running cost, its total cost.
_Result = tuple[list[Step], list[int], int]
# (cost increase, position, the one new step when appended, else the whole new timeline)
_Insertion = tuple[int, int, Step | None, _Result | None]


class Timelines:
    """Jobs, lanes and the simulation they share, for one solve."""

    def __init__(
        self,
        moves: Sequence[Move],
        assistants: Sequence[Assistant],
        walking: WalkingRules,
        now: datetime,
        rules: AssignmentRules,
        template: Timelines | None = None,
    ) -> None:
        self.walking = walking
        self.rule = walking.rule_seconds()
        self.rooms: dict[str, RoomRef]
        # walks[b][a]: seconds from room a to room b, filled as they are needed
        self.walks: dict[str, dict[str, int]]
        self.jobs: list[_Job]
        if template is not None:
            self.rooms, self.walks = template.rooms, template.walks
            self.jobs = [job.fresh() for job in template.jobs]
        else:
            self.rooms, self.walks, jobs = _jobs(moves, walking, rules)
            self.rooms.update((a.location.id, a.location) for a in assistants if a.location)
            jobs.sort(key=_key)
            # Ranks in due order, equal for equal keys: comparing two is comparing their keys.
            rank, last = -1, None
            for job in jobs:
                if job.key != last:
                    rank, last = rank + 1, job.key
                job.rank = rank
            self.jobs = jobs
        self.now = stamp = int(now.timestamp())
        self.lanes: list[_Lane]
        if template is not None:
            self.lanes = [lane.fresh() for lane in template.lanes]
        else:
            lanes = [_Lane(a, stamp) for a in assistants if not a.absent]
            self.lanes = [lane for lane in lanes if lane.segments]
        self.fair = int(rules.fairness_weight.total_seconds())
        self.rules = rules
        self.budget = rules.search_budget * len(self.jobs)
        self.changes = 0  # bumped with every lane's version: whether any timeline changed

    def walk(self, a: str, b: str) -> int:
        """Seconds from room ``a`` to room ``b`` (``WalkingRules.seconds``, its rule
        written out when no pair is overridden)."""
        if a == b:
            return 0
        here, there, rule = self.rooms[a], self.rooms[b], self.rule
        if rule is None:
            return self.walking.seconds(here, there)
        if here.building != there.building:
            return rule[2]
        return rule[1] if here.floor != there.floor else rule[0]

    def reach(
        self, free: int, here: str | None, job: _Job, segments: list[tuple[int, int]]
    ) -> Step | None:
        """The earliest way to do ``job`` after being free at ``free`` in room ``here``."""
        if here is None:
            walked = 0
        else:
            walked = job.approach.get(here, -1)
            if walked < 0:
                walked = job.approach[here] = self.walk(here, job.frm)
        earliest, carry, limit = job.earliest, job.carry, job.limit
        for start, end in segments:
            depart = free if free > start else start
            begin = depart + walked
            if begin < earliest:
                begin = earliest
                depart = begin - walked
            done = begin + carry
            if done > limit:
                return None
            if done <= end:
                late = done - job.latest
                return depart, done, late if late > 0 else 0, walked
        return None

    def simulate(
        self, lane: _Lane, jobs: list[_Job], keep: int = 0, ceiling: int = _ANY, shift: int = 0
    ) -> _Result | None:
        """Steps and cost of ``lane`` doing ``jobs`` in order; ``None`` if it cannot.

        The first ``keep`` jobs must be the lane's current first ``keep``: their
        steps are reused. Costs only grow along a timeline, so the simulation
        gives up (``None``) as soon as the cost reaches ``ceiling``. ``shift``
        says how the rest relates to the lane's current jobs: -1 when ``jobs``
        has one inserted at ``keep``, +1 when the one at ``keep`` was removed.
        Then, once a job ends when it does now, the rest of the current
        timeline is reused as it is (only its running cost moves).
        """
        count = len(jobs)
        if lane.cap is not None and count > lane.cap:
            return None
        self.budget -= 1
        old_steps, old_acc = lane.steps, lane.acc
        steps = old_steps[:keep]
        acc = old_acc[: keep + 1]
        running, fairness = acc[-1], self.fair * count * count
        free, here = (steps[-1][1], jobs[keep - 1].to) if keep else (_NEVER, lane.home)
        segments = lane.segments
        first = (keep + 1 if shift < 0 else keep) if shift else count
        for i in range(keep, count):
            job = jobs[i]
            # ``reach``, written out: this is the local search's inner loop.
            if here is None:
                walked = 0
            else:
                walked = job.approach.get(here, -1)
                if walked < 0:
                    walked = job.approach[here] = self.walk(here, job.frm)
            earliest, carry, limit = job.earliest, job.carry, job.limit
            for start, end in segments:
                depart = free if free > start else start
                begin = depart + walked
                if begin < earliest:
                    begin = earliest
                    depart = begin - walked
                done = begin + carry
                if done > limit:
                    return None
                if done <= end:
                    break
            else:
                return None
            late = done - job.latest
            late = late if late > 0 else 0
            steps.append((depart, done, late, walked))
            running += late * _LATE + walked
            if running + fairness >= ceiling:
                return None
            acc.append(running)
            free, here = done, job.to
            if i >= first and free == old_steps[i + shift][1]:
                rest = i + shift + 1  # the current index of the next job
                offset = running - old_acc[rest]
                steps += old_steps[rest:]
                acc += [cost + offset for cost in old_acc[rest + 1 :]]
                total = old_acc[-1] + offset + fairness
                return None if total >= ceiling else (steps, acc, total)
        return steps, acc, running + fairness

    def commit(self, lane: _Lane, jobs: list[_Job], result: _Result, same: int = 0) -> None:
        """Make ``jobs`` (simulated as ``result``) the lane's day; its first ``same``
        jobs and steps are the lane's current first ``same``."""
        for job in lane.jobs[same:]:
            job.lane = None
        lane.jobs, (lane.steps, lane.acc, lane.cost) = jobs, result
        lane.version += 1
        self.changes += 1
        steps = lane.steps
        for i in range(same, len(jobs)):
            job, step = jobs[i], steps[i]
            job.lane, job.step, job.late = lane, step, step[2]

    def insertion(
        self, lane: _Lane, job: _Job, *, wide: bool = False, below: int = _ANY
    ) -> _Insertion | None:
        """The cheapest way to add ``job`` to ``lane`` for less than ``below``, or ``None``.

        The greedy tries the due-order position only; ``wide`` (the local
        search) also tries every position among the moves whose windows
        overlap this one's: a long-window move done early in a quiet moment,
        or two simultaneous moves in the order that walks least.
        """
        jobs = lane.jobs
        count = len(jobs)
        if lane.cap is not None and count >= lane.cap:
            return None
        rank = job.rank
        due = count if not count or rank >= jobs[-1].rank else bisect_right(jobs, rank, key=_rank)
        best = self.insertion_at(lane, job, due, below)
        if wide:
            # Every position among the moves whose windows overlap this one's.
            earliest, limit = job.earliest, job.limit
            low = high = count
            for i, other in enumerate(jobs):
                if other.limit >= earliest:
                    low = i
                    break
            for i, other in enumerate(jobs):
                if other.earliest > limit:
                    high = i
                    break
            for pos in range(low, high + 1):
                bound = below if best is None else best[0]
                option = None if pos == due else self.insertion_at(lane, job, pos, bound)
                best = option or best
        return best

    def insertion_at(self, lane: _Lane, job: _Job, pos: int, below: int) -> _Insertion | None:
        jobs, count = lane.jobs, len(lane.jobs)
        here: str | None
        free, here = (lane.steps[pos - 1][1], jobs[pos - 1].to) if pos else (_NEVER, lane.home)
        walked = 0 if here is None else job.approach.get(here, -1)
        if walked < 0 and here is not None:
            walked = job.approach[here] = self.walk(here, job.frm)
        # ``reach``, written out: the local search weighs every position this way.
        earliest, carry, limit = job.earliest, job.carry, job.limit
        step: Step | None = None
        for start, end in lane.segments:
            depart = free if free > start else start
            begin = depart + walked
            if begin < earliest:
                begin = earliest
                depart = begin - walked
            done = begin + carry
            if done > limit:
                break
            if done <= end:
                late = done - job.latest
                step = (depart, done, late if late > 0 else 0, walked)
                break
        if step is None:
            return None
        delta = step[2] * _LATE + walked + self.fair * (2 * count + 1)
        if pos == count:
            return None if delta >= below else (delta, count, step, None)
        if lane.acc[pos] - lane.acc[-1] + delta >= below:  # the tail can only add: give up early
            return None
        ceiling = lane.cost + below if below < _ANY else _ANY
        result = self.simulate_insert(lane, job, pos, step, ceiling)
        return None if result is None else (result[2] - lane.cost, pos, None, result)

    def simulate_insert(
        self, lane: _Lane, job: _Job, pos: int, step: Step, ceiling: int
    ) -> _Result | None:
        """``simulate`` of the lane's jobs with ``job`` inserted at ``pos`` (its step
        already known), without building that list; ``None`` as there. The lane
        has room for one more (``insertion`` checked its cap)."""
        jobs = lane.jobs
        count = len(jobs) + 1  # within the cap: ``insertion`` checked it
        self.budget -= 1
        old_steps, old_acc = lane.steps, lane.acc
        steps = old_steps[:pos]
        steps.append(step)
        acc = old_acc[: pos + 1]
        fairness = self.fair * count * count
        running = acc[-1] + step[2] * _LATE + step[3]
        if running + fairness >= ceiling:
            return None
        acc.append(running)
        free, here, segments = step[1], job.to, lane.segments
        for i in range(pos, count - 1):  # the lane's jobs from ``pos`` on, one later
            other = jobs[i]
            approach = other.approach
            walked = approach.get(here, -1)
            if walked < 0:
                walked = approach[here] = self.walk(here, other.frm)
            earliest, carry, limit = other.earliest, other.carry, other.limit
            for start, end in segments:
                depart = free if free > start else start
                begin = depart + walked
                if begin < earliest:
                    begin = earliest
                    depart = begin - walked
                done = begin + carry
                if done > limit:
                    return None
                if done <= end:
                    break
            else:
                return None
            late = done - other.latest
            late = late if late > 0 else 0
            steps.append((depart, done, late, walked))
            running += late * _LATE + walked
            if running + fairness >= ceiling:
                return None
            acc.append(running)
            free, here = done, other.to
            if free == old_steps[i][1]:  # as it was: the rest of the day is too
                offset = running - old_acc[i + 1]
                steps += old_steps[i + 1 :]
                acc += [cost + offset for cost in old_acc[i + 2 :]]
                total = old_acc[-1] + offset + fairness
                return None if total >= ceiling else (steps, acc, total)
        return steps, acc, running + fairness

    def place(self, lane: _Lane, job: _Job, option: _Insertion) -> None:
        delta, pos, step, result = option
        if step is not None:
            lane.jobs.append(job)
            lane.steps.append(step)
            lane.acc.append(lane.acc[-1] + step[2] * _LATE + step[3])
            lane.cost += delta
            lane.version += 1
            self.changes += 1
            job.lane, job.step, job.late = lane, step, step[2]
        elif result is not None:
            self.commit(lane, [*lane.jobs[:pos], job, *lane.jobs[pos:]], result, pos)

    def appending(self, lane: _Lane, job: _Job, below: int) -> _Insertion | None:
        """``job`` appended to ``lane`` if that costs less than ``below`` (``reach``
        inlined: this is the greedy's inner loop)."""
        count = len(lane.jobs)
        share = self.fair * (2 * count + 1)
        free, here = (lane.steps[-1][1], lane.jobs[-1].to) if count else (_NEVER, lane.home)
        if here is None:
            walked = 0
        else:
            walked = job.approach.get(here, -1)
            if walked < 0:
                walked = job.approach[here] = self.walk(here, job.frm)
        if share + walked >= below:
            return None
        earliest, latest = job.earliest, job.latest
        for start, end in lane.segments:
            depart = free if free > start else start
            begin = depart + walked
            if begin < earliest:
                begin = earliest
                depart = begin - walked
            done = begin + job.carry
            if done > job.limit:
                return None
            if done <= end:
                late = done - latest
                late = late if late > 0 else 0
                delta = late * _LATE + walked + share
                return (delta, count, (depart, done, late, walked), None) if delta < below else None
        return None

    def without(self, job: _Job) -> tuple[list[_Job], _Result | None, int]:
        """The lane's jobs without ``job``, their simulation, and where ``job`` was."""
        lane = job.lane
        assert lane is not None  # only ever called on placed jobs
        pos = lane.jobs.index(job)
        rest = [*lane.jobs[:pos], *lane.jobs[pos + 1 :]]
        return rest, self.simulate(lane, rest, pos, shift=1), pos


def _jobs(
    moves: Sequence[Move], walking: WalkingRules, rules: AssignmentRules
) -> tuple[dict[str, RoomRef], dict[str, dict[str, int]], list[_Job]]:
    """The day's rooms by id, the walks between them (filled as they are needed:
    ``walks[b][a]`` is from room a to room b) and a job per move, in one pass."""
    rooms: dict[str, RoomRef] = {}
    walks: dict[str, dict[str, int]] = {}
    jobs = []
    handling = int(rules.handling.total_seconds())
    max_late = int(rules.max_lateness.total_seconds())
    seconds = walking.seconds
    for m in moves:
        frm, to = m.from_room, m.to_room
        rooms[frm.id] = frm
        rooms[to.id] = to
        into = walks.get(to.id)
        if into is None:
            into = walks[to.id] = {}
        approach = walks.get(frm.id)
        if approach is None:
            approach = walks[frm.id] = {}
        carry = into.get(frm.id)
        if carry is None:
            carry = into[frm.id] = seconds(frm, to)
        jobs.append(_Job(m, approach, carry + handling, max_late))
    return rooms, walks, jobs


def _key(job: _Job) -> tuple[int, int, str, str, str]:
    return job.key


def _rank(job: _Job) -> int:
    return job.rank


# Memos of the conversions between instants and seconds: the same few hundred
# instants (bells, duty, breaks) and minutes recur all week. Plain dicts, read
# inline in the loops over jobs, emptied when they reach ``_MEMO`` entries.
_MEMO = 8192
_stamps: dict[datetime, int] = {}
_instants: dict[int, datetime] = {}
_spans: dict[int, timedelta] = {}


def _stamp(instant: datetime) -> int:
    found = _stamps.get(instant)
    if found is None:
        if len(_stamps) >= _MEMO:
            _stamps.clear()
        found = _stamps[instant] = int(instant.timestamp())
    return found


def _instant(timestamp: int) -> datetime:
    found = _instants.get(timestamp)
    if found is None:
        if len(_instants) >= _MEMO:
            _instants.clear()
        found = _instants[timestamp] = datetime.fromtimestamp(timestamp, UTC)
    return found


def _span(seconds: int) -> timedelta:
    found = _spans.get(seconds)
    if found is None:
        if len(_spans) >= _MEMO:
            _spans.clear()
        found = _spans[seconds] = timedelta(seconds=seconds)
    return found
