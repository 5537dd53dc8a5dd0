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
from functools import lru_cache

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
        "step",
        "to",
        "tried",
    )

    def __init__(self, move: Move, approach: dict[str, int], carry: int, max_late: int) -> None:
        self.move = move
        self.approach = approach  # walking seconds from a room to ``frm``, shared per room
        self.earliest = earliest = _stamp(move.earliest)
        self.latest = latest = _stamp(move.latest)
        self.limit = latest + max_late
        self.frm = frm = move.from_room.id
        self.to = to = move.to_room.id
        self.key = (latest, earliest, move.device_id, frm, to)
        self.carry = carry
        self.floor = max(0, earliest + carry - latest)
        # As ``reset``, written out: a national week makes a quarter of a million jobs.
        self.lane: _Lane | None = None
        self.step: Step | None = None
        self.late = 0
        self.movable = True
        self.pinned = False
        self.hopeless: bool | None = None
        self.tried: tuple[int, ...] | None = None

    def reset(self) -> None:
        self.lane = None
        self.step = None  # its step on ``lane``
        self.late = 0
        self.movable = True
        self.pinned = False
        self.hopeless = None
        self.tried = None  # lane versions when relocating it last failed

    def fresh(self) -> _Job:
        """The same move, not yet placed (for a second solve of the same day)."""
        job = _Job.__new__(_Job)
        job.move, job.approach, job.key = self.move, self.approach, self.key
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
        self.rooms: dict[str, RoomRef]
        # walks[b][a]: seconds from room a to room b, filled as they are needed
        self.walks: dict[str, dict[str, int]]
        self.jobs: list[_Job]
        if template is not None:
            self.rooms, self.walks = template.rooms, template.walks
            self.jobs = [job.fresh() for job in template.jobs]
        else:
            self.rooms = rooms = {}
            for m in moves:
                rooms[m.from_room.id] = m.from_room
                rooms[m.to_room.id] = m.to_room
            rooms.update((a.location.id, a.location) for a in assistants if a.location)
            walks: dict[str, dict[str, int]] = {room: {} for room in rooms}
            self.walks = walks
            handling = int(rules.handling.total_seconds())
            max_late = int(rules.max_lateness.total_seconds())
            seconds = walking.seconds
            jobs = []
            for m in moves:
                frm, to = m.from_room, m.to_room
                into = walks[to.id]
                carry = into.get(frm.id)
                if carry is None:
                    carry = into[frm.id] = seconds(frm, to)
                jobs.append(_Job(m, walks[frm.id], carry + handling, max_late))
            jobs.sort(key=_key)
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

    def walk(self, a: str, b: str) -> int:
        return self.walking.seconds(self.rooms[a], self.rooms[b])

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
        reach, segments = self.reach, lane.segments
        first = (keep + 1 if shift < 0 else keep) if shift else count
        for i in range(keep, count):
            job = jobs[i]
            found = reach(free, here, job, segments)
            if found is None:
                return None
            steps.append(found)
            running += found[2] * _LATE + found[3]
            if running + fairness >= ceiling:
                return None
            acc.append(running)
            free, here = found[1], job.to
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
        due = (
            count
            if not count or job.key >= jobs[-1].key
            else bisect_right(jobs, job.key, key=lambda other: other.key)
        )
        best = self.insertion_at(lane, job, due, below)
        if wide:
            low = next((i for i, other in enumerate(jobs) if other.limit >= job.earliest), count)
            high = next((i for i, other in enumerate(jobs) if other.earliest > job.limit), count)
            for pos in range(low, high + 1):
                bound = below if best is None else best[0]
                other = None if pos == due else self.insertion_at(lane, job, pos, bound)
                best = other or best
        return best

    def insertion_at(self, lane: _Lane, job: _Job, pos: int, below: int) -> _Insertion | None:
        jobs, count = lane.jobs, len(lane.jobs)
        free, here = (lane.steps[pos - 1][1], jobs[pos - 1].to) if pos else (_NEVER, lane.home)
        step = self.reach(free, here, job, lane.segments)
        if step is None:
            return None
        delta = step[2] * _LATE + step[3] + self.fair * (2 * count + 1)
        if pos == count:
            return None if delta >= below else (delta, count, step, None)
        if lane.acc[pos] - lane.acc[-1] + delta >= below:  # the tail can only add: give up early
            return None
        ceiling = lane.cost + below if below < _ANY else _ANY
        result = self.simulate(lane, [*jobs[:pos], job, *jobs[pos:]], pos, ceiling, -1)
        return None if result is None else (result[2] - lane.cost, pos, None, result)

    def place(self, lane: _Lane, job: _Job, option: _Insertion) -> None:
        delta, pos, step, result = option
        if step is not None:
            lane.jobs.append(job)
            lane.steps.append(step)
            lane.acc.append(lane.acc[-1] + step[2] * _LATE + step[3])
            lane.cost += delta
            lane.version += 1
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


def _key(job: _Job) -> tuple[int, int, str, str, str]:
    return job.key


@lru_cache(maxsize=8192)
def _stamp(instant: datetime) -> int:
    # The same few hundred instants (bells, duty, breaks) recur all week.
    return int(instant.timestamp())


@lru_cache(maxsize=8192)
def _instant(timestamp: int) -> datetime:
    # Moves cluster on a few hundred distinct minutes a day: cached, the plan is cheap.
    return datetime.fromtimestamp(timestamp, UTC)


@lru_cache(maxsize=1024)
def _span(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)
