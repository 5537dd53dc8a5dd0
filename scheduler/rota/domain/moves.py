"""The move rota's domain: lessons, robots, assistants, moves and plans (pure, no I/O).

Every instant is an aware datetime (UTC in practice); nothing here reads a
clock. ``derive`` turns one device's booked lessons of one school day into the
moves that get it to each lesson and back to its charging base; the
assignment of moves to assistants lives in ``scheduler.rota.domain.assignment``.

A tablet on a stand in a classroom is rota'd exactly like a robot: it is a
``DeviceDay`` too.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Literal

from scheduler.rota.domain.walking import RoomRef, WalkingRules, room_pair

__all__ = [
    "NOBODY_FREE",
    "NO_ASSISTANT_ON_DUTY",
    "PINNED_ASSISTANT_CANNOT",
    "REACHED_CAP",
    "TOO_LATE",
    "Assignment",
    "AssignmentRules",
    "Assistant",
    "BatteryWarning",
    "BookedLesson",
    "Derivation",
    "DerivationRules",
    "DeviceDay",
    "DutyWindow",
    "Move",
    "MoveReason",
    "Pin",
    "Plan",
    "RoomRef",
    "RotaError",
    "WalkingRules",
    "changed_assignments",
    "derive",
    "derive_moves",
    "room_pair",
]

MoveReason = Literal["to_lesson", "from_base", "to_base", "charge"]

NO_ASSISTANT_ON_DUTY = "no assistant on duty"
NOBODY_FREE = "nobody free in time"
REACHED_CAP = "every assistant on duty has reached their cap"
PINNED_ASSISTANT_CANNOT = "the pinned assistant cannot do it"
TOO_LATE = "too late to do it now"


_ID_HASH = hashlib.blake2b(digest_size=8)  # copied per move: cheaper than a new one
_NO_TIME = timedelta()


class RotaError(ValueError):
    """Input the rota cannot use: overlapping lessons, duty that ends before it starts."""


def _require_aware(*instants: datetime) -> None:
    if any(t.utcoffset() is None for t in instants):
        raise RotaError("instants must be time-zone aware")


@dataclass(frozen=True, slots=True)
class BookedLesson:
    """A booked lesson a classroom device must attend: where and when (aware instants)."""

    booking_id: str
    device_id: str
    room: RoomRef
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        _require_aware(self.starts_at, self.ends_at)
        if self.ends_at <= self.starts_at:
            raise RotaError(f"booking {self.booking_id} ends before it starts")


@dataclass(frozen=True, slots=True)
class DeviceDay:
    """A classroom device at the start of a school day, as telemetry and the registry know it.

    ``last_known_room`` of ``None`` means "at its charging base". Battery figures
    are optional; without both of them no new charge trip is decided.

    ``battery_at`` is when ``battery_pct`` holds (now, for a live reading): the
    projection starts there, so lessons over by then use nothing and a lesson
    under way only its rest; ``None`` projects from the start of the day.
    ``charging``: on charge on its base at ``battery_at``, gaining until it is
    fetched for the first lesson. ``charge_after`` names the lessons after
    which a charge trip is already planned (or done): such a trip is kept
    once its gap has begun or without battery figures, and otherwise dropped
    only when the battery now clearly lasts (``keep_charge_margin_pct`` above
    the floor), so readings that drift do not make the rota flap.
    """

    device_id: str
    charging_base: RoomRef | None
    last_known_room: RoomRef | None = None
    battery_pct: float | None = None
    drain_pct_per_hour: float | None = None
    battery_at: datetime | None = None
    charging: bool = False
    charge_after: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.battery_at is not None:
            _require_aware(self.battery_at)


@dataclass(frozen=True, slots=True)
class DerivationRules:
    """How moves are timed around lessons and when a charge trip is due.

    ``fetch_lead``: how long before the first lesson the robot may be fetched
    from its base. ``return_within``: how long after the last lesson it should
    be back on its base. A charge trip leaves within ``trip_window`` of the
    previous lesson's end, comes back within ``trip_window`` before the next
    start, and needs at least ``min_charge`` on the base in between. A trip
    already planned is dropped only when the battery would end the next
    lesson ``keep_charge_margin_pct`` above ``battery_floor_pct``.
    """

    fetch_lead: timedelta = timedelta(minutes=60)
    return_within: timedelta = timedelta(minutes=30)
    trip_window: timedelta = timedelta(minutes=15)
    min_charge: timedelta = timedelta(minutes=30)
    battery_floor_pct: float = 20.0
    charge_pct_per_hour: float = 60.0
    keep_charge_margin_pct: float = 10.0


@dataclass(frozen=True, slots=True)
class AssignmentRules:
    """Tunables of the assignment.

    ``handling``: time to unplug, pick up and set down a device, added to the
    carrying walk. ``max_lateness``: a move that would finish later than this
    after its due time is not planned but flagged. ``fairness_weight``: the
    walking time one unit of the sum of squared loads is worth.
    ``swap_horizon``: how far apart in due time two moves may be for the
    local search to try exchanging them. The local search stops after
    ``max_rounds`` passes or after ``search_budget`` timeline simulations per
    move it is allowed to look at (twice the moves in trouble plus four, at
    most all of the day's), whichever comes first.
    """

    handling: timedelta = timedelta(minutes=1)
    max_lateness: timedelta = timedelta(minutes=10)
    fairness_weight: timedelta = timedelta(minutes=2)
    max_rounds: int = 3
    search_budget: int = 2
    swap_horizon: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True, init=False)
class Move:
    """Carry a device from one room to another between ``earliest`` and ``latest`` (due by).

    ``booking_id`` is the lesson the move serves (the next one, or for
    ``to_base``/``charge`` the one just ended). ``id`` is derived from the
    content, so deriving the same day twice gives the same ids and a move
    whose room or window changed gets a new one.
    """

    device_id: str
    reason: MoveReason
    from_room: RoomRef
    to_room: RoomRef
    earliest: datetime
    latest: datetime
    booking_id: str
    _id: str = field(init=False, repr=False, compare=False)

    # Written out instead of the frozen dataclass's ``__init__`` and a
    # ``__post_init__``: a national week derives over a hundred thousand moves.
    def __init__(
        self,
        device_id: str,
        reason: MoveReason,
        from_room: RoomRef,
        to_room: RoomRef,
        earliest: datetime,
        latest: datetime,
        booking_id: str,
    ) -> None:
        # The slots' own setters, as the frozen dataclass's ``__init__`` would use
        # ``object.__setattr__``, without looking each name up.
        _move_device(self, device_id)
        _move_reason(self, reason)
        _move_from(self, from_room)
        _move_to(self, to_room)
        _move_earliest(self, earliest)
        _move_latest(self, latest)
        _move_booking(self, booking_id)
        # Hashed once: a national week asks for move ids hundreds of thousands of times.
        key = (
            f"{device_id}|{reason}|{from_room.id}|{to_room.id}|"
            f"{_epoch_text(earliest)}|{_epoch_text(latest)}"
        )
        digest = _ID_HASH.copy()
        digest.update(key.encode())
        _move_id(self, "mv-" + digest.hexdigest())

    @property
    def id(self) -> str:
        """``mv-`` and 16 hex digits hashed from device, reason, rooms and window."""
        return self._id


def _setters(cls: type, *names: str) -> list[Callable[[object, object], None]]:
    return [cls.__dict__[name].__set__ for name in names]


_move_device, _move_reason, _move_from, _move_to, _move_earliest, _move_latest = _setters(
    Move, "device_id", "reason", "from_room", "to_room", "earliest", "latest"
)
_move_booking, _move_id = _setters(Move, "booking_id", "_id")


@lru_cache(maxsize=8192)
def _epoch_text(instant: datetime) -> str:
    # Whole seconds since the epoch, as in a move's id; the bells of a day recur.
    return str(int(instant.timestamp()))


@dataclass(frozen=True, slots=True)
class BatteryWarning:
    """A lesson the device's battery is projected not to last, and no charge trip fits before."""

    device_id: str
    booking_id: str
    projected_pct: float


@dataclass(frozen=True, slots=True)
class Derivation:
    """The moves of one device's day, in time order, and the battery warnings found."""

    moves: tuple[Move, ...]
    warnings: tuple[BatteryWarning, ...] = ()


def derive_moves(
    day: DeviceDay, lessons: Sequence[BookedLesson], rules: DerivationRules | None = None
) -> list[Move]:
    """The moves of one device's school day (see ``derive``), without the warnings."""
    return list(derive(day, lessons, rules).moves)


def derive(
    day: DeviceDay, lessons: Sequence[BookedLesson], rules: DerivationRules | None = None
) -> Derivation:
    """Derive the moves that take ``day``'s device to each of ``lessons`` and home again.

    ``lessons`` are that device's booked lessons of one day, in any order.
    Moves: from where it is (its base unless ``last_known_room`` says
    otherwise) to the first lesson; between consecutive lessons in different
    rooms, in the window from the end of one to the start of the next; back to
    the base after the last. No move where the device is already in the room.
    With battery figures, a lesson the battery would not last (projected under
    ``battery_floor_pct`` at its end, from ``day.battery_at``) gets a charge
    trip in the gap before it when the gap is long enough and has not begun
    by ``battery_at``, and a ``BatteryWarning`` otherwise; trips named in
    ``day.charge_after`` are kept as ``DeviceDay`` describes. Move ids depend
    only on device, reason, rooms and window, never on the battery figures.
    Raises ``RotaError`` for another device's lesson or lessons that overlap.
    """
    rules = rules or _DEFAULT_DERIVATION
    ordered = sorted(lessons, key=_starts_at)
    _check(day, ordered)
    moves: list[Move] = []
    warnings: list[BatteryWarning] = []
    device, base, since = day.device_id, day.charging_base, day.battery_at
    charge_after, floor = day.charge_after, rules.battery_floor_pct
    here = day.last_known_room or base
    battery = _battery_at_start(day, ordered, rules)
    previous: BookedLesson | None = None
    # One pass over the lessons, written out: a national week derives 25,000 device days.
    for lesson in ordered:
        room, starts = lesson.room, lesson.starts_at
        planned = previous is not None and previous.booking_id in charge_after
        if battery is not None or planned:  # without either, no trip and no warning
            use = _use(day, lesson)
            ahead = since is None or lesson.ends_at > since
            margin = rules.keep_charge_margin_pct if planned else 0.0
            low = battery is not None and ahead and battery - use < floor + margin
            begun = previous is not None and since is not None and previous.ends_at < since
            if (planned and (begun or battery is None or low)) or (low and not begun):
                gained = _charge_trip(day, previous, lesson, here, rules, moves)
                if gained is not None:
                    here = base
                    battery = None if battery is None else min(100.0, battery + gained)
            if battery is not None:
                if ahead and battery - use < floor:
                    warnings.append(BatteryWarning(device, lesson.booking_id, battery - use))
                battery -= use
        if here is not None and here.id != room.id:
            # Arrive: fetched ahead of the day's first lesson, straight from the
            # last lesson's room, or back from the base after a charge trip.
            if previous is None:
                earliest = starts - rules.fetch_lead
            elif here.id != previous.room.id:
                earliest = starts - rules.trip_window
            else:
                earliest = previous.ends_at
            home = base is not None and here.id == base.id
            reason: MoveReason = "from_base" if home else "to_lesson"
            moves.append(Move(device, reason, here, room, earliest, starts, lesson.booking_id))
        here, previous = room, lesson
    if previous is not None and base is not None and here is not None and here.id != base.id:
        ended, booking = previous.ends_at, previous.booking_id
        back = ended + rules.return_within
        moves.append(Move(device, "to_base", here, base, ended, back, booking))
    return Derivation(tuple(moves), tuple(warnings))


_DEFAULT_DERIVATION = DerivationRules()


def _starts_at(lesson: BookedLesson) -> datetime:
    return lesson.starts_at


def _battery_at_start(
    day: DeviceDay, ordered: Sequence[BookedLesson], rules: DerivationRules
) -> float | None:
    """The battery the projection starts from (``None``: no battery rule)."""
    if day.battery_pct is None or day.drain_pct_per_hour is None:
        return None
    battery = day.battery_pct
    on_base = day.last_known_room is None or (
        day.charging_base is not None and day.last_known_room.id == day.charging_base.id
    )
    if day.charging and on_base and day.battery_at is not None and ordered:
        fetched = ordered[0].starts_at - rules.fetch_lead
        if fetched > day.battery_at:
            battery += rules.charge_pct_per_hour * _hours(fetched - day.battery_at)
    return min(100.0, battery)


def _use(day: DeviceDay, lesson: BookedLesson) -> float:
    """The battery a lesson uses after ``day.battery_at`` (all of it without a reading time)."""
    if day.drain_pct_per_hour is None:
        return 0.0
    start = lesson.starts_at
    if day.battery_at is not None and day.battery_at > start:
        start = min(day.battery_at, lesson.ends_at)
    return day.drain_pct_per_hour * _hours(lesson.ends_at - start)


def _check(day: DeviceDay, ordered: Sequence[BookedLesson]) -> None:
    for earlier, later in pairwise(ordered):
        if later.starts_at < earlier.ends_at:
            raise RotaError(f"bookings {earlier.booking_id} and {later.booking_id} overlap")
    for lesson in ordered:
        if lesson.device_id != day.device_id:
            raise RotaError(f"booking {lesson.booking_id} is not for device {day.device_id}")


def _hours(span: timedelta) -> float:
    return span.total_seconds() / 3600


def _charge_trip(
    day: DeviceDay,
    previous: BookedLesson | None,
    lesson: BookedLesson,
    here: RoomRef | None,
    rules: DerivationRules,
    moves: list[Move],
) -> float | None:
    """Append a trip to the base before ``lesson`` if the gap allows; the % it gains.

    The gain counts only time on the base after ``day.battery_at`` (a trip
    under way has already put the rest into the reading).
    """
    base = day.charging_base
    if previous is None or base is None or here is None:
        return None
    on_base = lesson.starts_at - previous.ends_at - 2 * rules.trip_window
    if on_base < rules.min_charge:
        return None
    if here.id != base.id:
        moves.append(
            Move(
                day.device_id,
                "charge",
                here,
                base,
                previous.ends_at,
                previous.ends_at + rules.trip_window,
                previous.booking_id,
            )
        )
    arrives = previous.ends_at + rules.trip_window
    if day.battery_at is not None and day.battery_at > arrives:
        on_base = max(timedelta(), lesson.starts_at - rules.trip_window - day.battery_at)
    return rules.charge_pct_per_hour * _hours(on_base)


@dataclass(frozen=True, slots=True)
class DutyWindow:
    """A stretch of duty (aware instants) with its breaks, during which no move is asked."""

    starts_at: datetime
    ends_at: datetime
    breaks: tuple[tuple[datetime, datetime], ...] = ()

    def __post_init__(self) -> None:
        _require_aware(self.starts_at, self.ends_at, *(t for b in self.breaks for t in b))
        if self.ends_at <= self.starts_at:
            raise RotaError("a duty window ends before it starts")
        last = self.starts_at
        for start, end in sorted(self.breaks):
            if end <= start or start < last or end > self.ends_at:
                raise RotaError("breaks must lie inside the duty window and not overlap")
            last = end

    def segments(self) -> tuple[tuple[datetime, datetime], ...]:
        """The working stretches: the window minus its breaks, in time order."""
        out: list[tuple[datetime, datetime]] = []
        start = self.starts_at
        for break_start, break_end in sorted(self.breaks):
            if break_start > start:
                out.append((start, break_start))
            start = break_end
        if start < self.ends_at:
            out.append((start, self.ends_at))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Assistant:
    """A classroom assistant for the day: duty windows, where they are, a cap, absence.

    ``location`` is where they start (``None``: assumed next to the first
    move). ``max_moves`` caps the moves given to them in one plan (a day).
    Raises ``RotaError`` when duty windows overlap.
    """

    id: str
    duty: tuple[DutyWindow, ...]
    location: RoomRef | None = None
    max_moves: int | None = None
    absent: bool = False

    def __post_init__(self) -> None:
        windows = sorted(self.duty, key=lambda w: w.starts_at)
        for earlier, later in pairwise(windows):
            if later.starts_at < earlier.ends_at:
                raise RotaError(f"duty windows of assistant {self.id} overlap")
        if self.max_moves is not None and self.max_moves < 0:
            raise RotaError("a cap on moves cannot be negative")


@dataclass(frozen=True, slots=True)
class Pin:
    """A manual assignment made by staff: the solver keeps it or flags it, never moves it."""

    move_id: str
    assistant_id: str


@dataclass(frozen=True, slots=True, init=False)
class Assignment:
    """One move's outcome: who carries it and when, or why nobody can.

    ``departs_at`` is when the assistant sets off towards ``move.from_room``;
    ``done_at`` when the device is in ``move.to_room``; ``late_by`` is how far
    ``done_at`` is past ``move.latest`` (zero when on time).
    """

    move: Move
    assistant_id: str | None
    departs_at: datetime | None = None
    done_at: datetime | None = None
    late_by: timedelta = timedelta()
    reason: str | None = None
    pinned: bool = False

    # Written out instead of the frozen dataclass's: a plan makes one per move.
    def __init__(
        self,
        move: Move,
        assistant_id: str | None,
        departs_at: datetime | None = None,
        done_at: datetime | None = None,
        late_by: timedelta = _NO_TIME,
        reason: str | None = None,
        pinned: bool = False,
    ) -> None:
        _assignment_move(self, move)
        _assignment_assistant(self, assistant_id)
        _assignment_departs(self, departs_at)
        _assignment_done(self, done_at)
        _assignment_late(self, late_by)
        _assignment_reason(self, reason)
        _assignment_pinned(self, pinned)

    @property
    def late(self) -> bool:
        """Whether the device arrives after the move's due time."""
        return self.late_by > timedelta()


_assignment_move, _assignment_assistant, _assignment_departs, _assignment_done = _setters(
    Assignment, "move", "assistant_id", "departs_at", "done_at"
)
_assignment_late, _assignment_reason, _assignment_pinned = _setters(
    Assignment, "late_by", "reason", "pinned"
)


@dataclass(frozen=True, slots=True)
class Plan:
    """The assignments of a set of moves (one school day), in deadline order.

    ``assistant_ids`` are the assistants who were available (on duty, not
    absent): the ones fairness is measured over.
    """

    assignments: tuple[Assignment, ...]
    assistant_ids: tuple[str, ...]

    def of(self, move_id: str) -> Assignment:
        """The assignment of a move; raises ``KeyError`` for a move not in the plan."""
        for assignment in self.assignments:
            if assignment.move.id == move_id:
                return assignment
        raise KeyError(move_id)

    def for_assistant(self, assistant_id: str) -> list[Assignment]:
        """That assistant's moves in the order they do them."""
        mine = [a for a in self.assignments if a.assistant_id == assistant_id]
        return sorted(mine, key=lambda a: (a.departs_at, a.done_at))

    @property
    def unassigned(self) -> list[Assignment]:
        """The moves nobody can do, each with its reason."""
        return [a for a in self.assignments if a.assistant_id is None]

    @property
    def total_lateness(self) -> timedelta:
        """The sum of ``late_by`` over assigned moves."""
        return sum((a.late_by for a in self.assignments), timedelta())

    @property
    def late_count(self) -> int:
        """How many assigned moves arrive after their due time."""
        return sum(1 for a in self.assignments if a.late)

    def loads(self) -> Counter[str]:
        """Moves per available assistant (zero included)."""
        counts = Counter(dict.fromkeys(self.assistant_ids, 0))
        counts.update(a.assistant_id for a in self.assignments if a.assistant_id is not None)
        return counts

    @property
    def spread(self) -> int:
        """Most minus fewest moves over the available assistants (the fairness figure)."""
        loads = self.loads().values()
        return max(loads) - min(loads) if loads else 0


def changed_assignments(
    before: Plan, after: Plan
) -> list[tuple[Assignment | None, Assignment | None]]:
    """Pairs (before, after) of moves whose assistant or timing changed, added or removed.

    The people to tell after a re-plan are the assistants on either side.
    """
    old = {a.move.id: a for a in before.assignments}
    new = {a.move.id: a for a in after.assignments}
    pairs: list[tuple[Assignment | None, Assignment | None]] = []
    for move_id, now_assigned in new.items():
        was = old.get(move_id)
        if (
            was is None
            or was.assistant_id != now_assigned.assistant_id
            or was.departs_at != now_assigned.departs_at
        ):
            pairs.append((was, now_assigned))
    pairs.extend((was, None) for move_id, was in old.items() if move_id not in new)
    return pairs
