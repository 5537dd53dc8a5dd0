"""The solver behind ``scheduler.rota.domain.assignment``: the greedy and the local search (pure).

Split from ``assignment.py`` (which holds the public functions and explains
the method) to keep each module readable; the timelines they work on are
simulated in ``scheduler.rota.domain.timeline``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from scheduler.rota.domain.moves import (
    NO_ASSISTANT_ON_DUTY,
    NOBODY_FREE,
    PINNED_ASSISTANT_CANNOT,
    REACHED_CAP,
    TOO_LATE,
    Assignment,
    Plan,
)
from scheduler.rota.domain.timeline import (
    _ANY,
    _LATE,
    _NEVER,
    _UNASSIGNED,
    Step,
    Timelines,
    _Insertion,
    _instant,
    _instants,
    _Job,
    _Lane,
    _span,
    _spans,
)

__all__ = ["Solver"]


class Solver(Timelines):
    """The state of one solve: the greedy, the local search, and the plan they make."""

    def start(
        self,
        anchored: Mapping[str, str],
        pinned: set[str],
        *,
        first_free: bool,
        order: Mapping[str, datetime] | None = None,
        beat: tuple[int, int] | None = None,
    ) -> Solver:
        """Anchor, then run the greedy; returns itself.

        With ``beat``, the greedy may stop early, leaving jobs unplaced, once
        its ``lateness_key`` can no longer be below ``beat``.
        """
        self.anchored, self.pinned = anchored, pinned
        self.anchor(anchored, pinned, order or {})
        self.greedy(first_free, beat)
        return self

    def anchor(
        self, anchored: Mapping[str, str], pinned: set[str], order: Mapping[str, datetime]
    ) -> None:
        """Put anchored jobs on their lanes; free the ones that do not fit.

        Jobs kept from a previous plan go in the order they were done there
        (``order``: their departure times), so a plan re-anchored unchanged is
        the same plan; others go in due order.
        """
        if not anchored:
            return
        lanes = {lane.id: lane for lane in self.lanes}
        sequence = sorted(
            self.jobs, key=lambda job: (order.get(job.move.id, job.move.latest), job.key)
        )
        for job in sequence:
            assistant_id = anchored.get(job.move.id)
            if assistant_id is None:
                continue
            job.pinned = job.move.id in pinned
            job.movable = False
            lane = lanes.get(assistant_id)
            option = None if lane is None else self._anchor_option(lane, job, order)
            if lane is not None and option is not None:
                self.place(lane, job, option)
            elif not job.pinned:
                job.movable = True

    def _anchor_option(
        self, lane: _Lane, job: _Job, order: Mapping[str, datetime]
    ) -> _Insertion | None:
        # A move kept from a previous plan goes after the ones done before it there
        # (the local search may have ordered them against due order); a new anchor
        # goes where the greedy would put it.
        if job.move.id in order:
            kept = self.insertion_at(lane, job, len(lane.jobs), _ANY)
            if kept is not None and (lane.cap is None or len(lane.jobs) < lane.cap):
                return kept
        return self.insertion(lane, job) or self.insertion(lane, job, wide=True)

    def greedy(self, first_free: bool, beat: tuple[int, int] | None = None) -> None:
        """Place every free job in due order: cheapest lane, or the first that can.

        With ``beat``, give up as soon as the result can no longer have a
        smaller (unassigned, lateness) than ``beat``: while every job is
        appended, no step already made changes, so both only grow.
        """
        unassigned = late = 0
        if beat is not None:
            unassigned = sum(1 for job in self.jobs if job.lane is None and not job.movable)
            late = sum(job.late for job in self.jobs if job.lane is not None)
        for job in self.jobs:
            if not job.movable or job.lane is not None:
                continue
            best = self.place_greedily(job, first_free)
            if beat is None:
                continue
            if best is None:
                unassigned += 1
            elif best[2] is None:  # inserted before other jobs: their steps moved
                beat = None
                continue
            else:
                late += best[2][2]
            if (unassigned, late) >= beat:
                return

    def place_greedily(  # noqa: PLR0912 - the greedy's inner loop, written out for speed
        self, job: _Job, first_free: bool
    ) -> _Insertion | None:
        """Place ``job`` on the cheapest lane, or the first that can; how, or ``None``.

        The greedy's inner loop: appending at the end of a lane's day (the
        common case) is ``Timelines.appending`` written out, with the job's
        figures read once for all lanes.
        """
        best: _Insertion | None = None
        chosen: _Lane | None = None
        below = _ANY
        rank, approach, frm = job.rank, job.approach, job.frm
        earliest, latest, carry, limit = job.earliest, job.latest, job.carry, job.limit
        fair = self.fair
        for lane in self.lanes:
            jobs = lane.jobs
            count = len(jobs)
            if (count and rank < jobs[-1].rank) or (lane.cap is not None and count >= lane.cap):
                option = self.insertion(lane, job, below=below)
                if option is None:
                    continue
            else:
                share = fair * (2 * count + 1)
                here: str | None
                free, here = (lane.steps[-1][1], jobs[-1].to) if count else (_NEVER, lane.home)
                walked = 0 if here is None else approach.get(here, -1)
                if walked < 0 and here is not None:
                    walked = approach[here] = self.walk(here, frm)
                if share + walked >= below:
                    continue
                option = None
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
                        late = done - latest
                        late = late if late > 0 else 0
                        delta = late * _LATE + walked + share
                        if delta < below:
                            option = (delta, count, (depart, done, late, walked), None)
                        break
                if option is None:
                    continue
            best, chosen, below = option, lane, option[0]
            if first_free:
                break
        if best is not None and chosen is not None:
            self.place(chosen, job, best)
        return best

    def relocate(
        self, job: _Job, lanes: list[_Lane] | None = None, *, finish: bool = False
    ) -> bool:
        """Move ``job`` to where the objective falls most (another lane, or another
        point of its own lane's day; only ``lanes`` if given); whether it did.

        ``finish``: the second half of an exchange, done even when the budget
        is spent (an exchange judged with the displaced move never tried is
        judged on half a move).
        """
        spent = self.budget <= 0 and not finish
        if not job.movable or (job.tried == self.changes and lanes is None) or spent:
            return False
        source = job.lane
        if source is None:
            found = self.best_place(job, _UNASSIGNED, lanes)
            if found is None:
                return False
            self.place(found[0], job, found[1])
            return True
        rest, left, pos = self.without(job)
        if left is None:
            return False
        gain = source.cost - left[2]
        saved = (source.jobs, source.steps, source.acc, source.cost)
        # The source lane without the job, while the other places are weighed: only
        # the lane changes; its jobs follow (``commit``) once the move is made.
        source.jobs, (source.steps, source.acc, source.cost) = rest, left
        source.version += 1
        self.changes += 1
        found = self.best_place(job, gain, lanes)
        if found is not None:
            job.lane = None
            steps = source.steps
            for i in range(pos, len(rest)):
                moved, step = rest[i], steps[i]
                moved.step, moved.late = step, step[2]
            self.place(found[0], job, found[1])
            return True
        source.jobs, source.steps, source.acc, source.cost = saved
        source.version += 1
        self.changes += 1
        if lanes is None:
            job.tried = self.changes
        return False

    def best_place(
        self, job: _Job, gain: int, lanes: list[_Lane] | None
    ) -> tuple[_Lane, _Insertion] | None:
        """Where the unplaced ``job`` costs least, if that is less than ``gain``."""
        best: _Insertion | None = None
        target: _Lane | None = None
        for lane in self.lanes if lanes is None else lanes:
            below = gain if best is None else best[0]
            option = self.insertion(lane, job, wide=True, below=below)
            if option is not None:
                best, target = option, lane
        if best is None or target is None:
            if lanes is None:
                job.tried = self.changes
            return None
        return target, best

    def exchange(self, job: _Job) -> bool:
        """Give ``job`` the place of a nearby move on another lane, which goes where it fits."""
        if not job.movable:
            return False
        horizon = int(self.rules.swap_horizon.total_seconds())
        candidates = sorted(  # nearest in due time first, then in due order
            (abs(other.latest - job.latest), other.rank, other, lane)
            for lane in self.lanes
            if lane is not job.lane
            for other in lane.jobs
            if other.movable and abs(other.latest - job.latest) <= horizon
        )
        for _, _, other, lane in candidates:
            if self.budget <= 0:
                return False
            if self.try_exchange(job, other, lane):
                return True
        return False

    def try_exchange(self, job: _Job, other: _Job, lane: _Lane) -> bool:
        before = _UNASSIGNED if job.lane is None else 0
        for x in self.lanes:
            before += x.cost
        if job.lane is not None:
            return self.try_exchange_placed(job, other, lane, before)
        # The common case (an unassigned move, which mostly does not fit in the
        # other's place): weigh it with only ``lane`` swapped, as ``relocate`` does.
        version = lane.version
        rest, left, pos = self.without(other)
        if left is None:
            self.bump()
            return False
        kept = (lane.jobs, lane.steps, lane.acc, lane.cost)
        lane.jobs, (lane.steps, lane.acc, lane.cost) = rest, left
        option = self.insertion(lane, job)
        if option is None:
            lane.jobs, lane.steps, lane.acc, lane.cost = kept
            lane.version += 1
            self.changes += 1
            self.bump()
            return False
        saved = [
            (x, version, *kept) if x is lane else (x, x.version, x.jobs, x.steps, x.acc, x.cost)
            for x in self.lanes
        ]
        other.lane = None  # the lane's jobs follow, as ``commit`` makes them
        steps = lane.steps
        for i in range(pos, len(rest)):
            moved, step = rest[i], steps[i]
            moved.step, moved.late = step, step[2]
        lane.version += 1
        self.changes += 1
        self.place(lane, job, option)
        self.relocate(other, finish=True)
        after = _UNASSIGNED if other.lane is None else 0
        for x in self.lanes:
            after += x.cost
        if after < before:
            return True
        self.put_back(saved)
        return False

    def try_exchange_placed(self, job: _Job, other: _Job, lane: _Lane, before: int) -> bool:
        saved = [(x, x.version, x.jobs, x.steps, x.acc, x.cost) for x in self.lanes]
        source = job.lane
        assert source is not None  # only ever called on a placed job
        rest, left, pos = self.without(job)
        if left is None:
            return False
        self.commit(source, rest, left, pos)
        rest, left, pos = self.without(other)
        if left is not None:
            self.commit(lane, rest, left, pos)
            option = self.insertion(lane, job)
            if option is not None:
                self.place(lane, job, option)
                self.relocate(other, finish=True)
                after = _UNASSIGNED if other.lane is None else 0
                for x in self.lanes:
                    after += x.cost
                if after < before:
                    return True
        self.put_back(saved)
        return False

    def put_back(
        self, saved: list[tuple[_Lane, int, list[_Job], list[Step], list[int], int]]
    ) -> None:
        """Put back the lanes that changed (every change bumps a lane's version)."""
        changed = [entry for entry in saved if entry[0].version != entry[1]]
        for x, *_ in changed:
            for placed in x.jobs:
                placed.lane = None
        for x, _, jobs, steps, acc, cost in changed:
            x.jobs, x.steps, x.acc, x.cost = jobs, steps, acc, cost
            for placed, step in zip(jobs, steps, strict=True):
                placed.lane, placed.step, placed.late = x, step, step[2]
        self.bump()

    def bump(self) -> None:
        """Count a change on every lane (after an exchange that was put back)."""
        for x in self.lanes:
            x.version += 1
        self.changes += 1

    def needs_help(self, job: _Job) -> bool:
        """Late beyond what nobody could avoid, or unassigned though someone is on duty."""
        if job.lane is not None:
            return job.late > job.floor
        if job.hopeless is None:
            job.hopeless = not any(self.reach(_NEVER, None, job, x.segments) for x in self.lanes)
        return job.movable and not job.hopeless

    def spread(self) -> int:
        loads = [len(lane.jobs) for lane in self.lanes]
        return max(loads) - min(loads) if loads else 0

    def troubled(self) -> bool:
        """Whether the local search has anything to gain on lateness, assignment or load."""
        return self.spread() > 1 or any(self.needs_help(job) for job in self.jobs)

    def improve(self) -> None:
        """Bounded local search, then every move it left unassigned placed where it fits."""
        self.search()
        self.settle()

    def settle(self) -> None:
        """Place each unassigned move that fits somewhere, budget or not.

        The search may stop (budget, rounds) with such a move never tried in
        the day as it ended; ``replan`` would then place it, so the plan would
        not be one that re-planning keeps. One placement can make room for
        another (a new room to walk from), so this repeats until none fits.
        """
        placed = True
        while placed:
            placed = False
            for job in self.jobs:
                if job.lane is not None or not job.movable or job.tried == self.changes:
                    continue  # placed, anchored, or tried in the day as it is now
                if not self.needs_help(job):
                    continue  # nobody on duty could do it
                found = self.best_place(job, _UNASSIGNED, None)
                if found is not None:
                    self.place(found[0], job, found[1])
                    placed = True

    def search(self) -> None:
        """Bounded local search around the jobs in trouble and the busiest lanes."""
        troubled = sum(1 for job in self.jobs if self.needs_help(job)) + self.spread()
        self.budget = self.rules.search_budget * min(len(self.jobs), 2 * troubled + 4)
        for _ in range(self.rules.max_rounds):
            improved = False
            for job in [job for job in self.jobs if self.needs_help(job)]:
                if self.budget <= 0:
                    return
                lane = job.lane
                if lane is not None and lane.jobs[0] is not job:
                    # The move just before it on the same timeline is what delays it.
                    improved |= self.relocate(lane.jobs[lane.jobs.index(job) - 1])
                if self.needs_help(job):
                    improved |= self.relocate(job)
                if job.lane is None and self.needs_help(job):
                    improved |= self.exchange(job)
            if self.spread() > 1:
                most = max(len(lane.jobs) for lane in self.lanes)
                light = [lane for lane in self.lanes if len(lane.jobs) <= most - 2]
                busiest = next(lane for lane in self.lanes if len(lane.jobs) == most)
                for job in list(busiest.jobs):
                    improved |= self.relocate(job, light)
            if not improved:
                return

    def release(self) -> None:
        """Break the references between jobs and lanes, so that reference counting
        frees this solve at once instead of leaving it to the cyclic collector."""
        for job in self.jobs:
            job.lane = None

    def lateness_key(self) -> tuple[int, int]:
        """(unassigned moves, seconds of lateness): what assignment minimises first."""
        placed = [job.late for job in self.jobs if job.lane is not None]
        return len(self.jobs) - len(placed), sum(placed)

    def reason(self, job: _Job) -> str:
        if job.pinned:
            return PINNED_ASSISTANT_CANNOT
        if job.limit < self.now + job.carry:
            return TOO_LATE
        on_duty = [lane for lane in self.lanes if self.reach(_NEVER, None, job, lane.segments)]
        if not on_duty:
            return NO_ASSISTANT_ON_DUTY
        if all(lane.cap is not None and len(lane.jobs) >= lane.cap for lane in on_duty):
            return REACHED_CAP
        return NOBODY_FREE

    def plan(self) -> Plan:
        out: list[Assignment] = []
        instants, spans = _instants, _spans
        for job in self.jobs:
            lane, step = job.lane, job.step
            if lane is None or step is None:
                out.append(Assignment(job.move, None, reason=self.reason(job), pinned=job.pinned))
                continue
            departs, done, late, _ = step
            departs_at, done_at, late_by = (
                instants.get(departs),
                instants.get(done),
                spans.get(late),
            )
            out.append(  # positional: this runs once per move of the day
                Assignment(
                    job.move,
                    lane.id,
                    _instant(departs) if departs_at is None else departs_at,
                    _instant(done) if done_at is None else done_at,
                    _span(late) if late_by is None else late_by,
                    None,
                    job.pinned,
                )
            )
        return Plan(tuple(out), tuple(lane.id for lane in self.lanes))
