"""Reintegration rules without I/O: phases, review dates, readiness, days in school.

Time is always a parameter; nothing here reads a clock, a database or a request.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from telepresence.platform.errors import Conflict, InvalidInput

__all__ = [
    "DEFAULT_FACTORS",
    "Figures",
    "Goal",
    "Outcome",
    "Phase",
    "PhaseChange",
    "Rating",
    "RatingMove",
    "ReviewDue",
    "SchoolDays",
    "bookings_in_school",
    "check_phase_change",
    "contact_overdue",
    "in_school",
    "rating_moves",
    "review_dues",
    "weekdays_in_school",
]


class Phase(enum.StrEnum):
    """Where the pupil stands on the way back, in the order a plan normally goes."""

    REMOTE_ONLY = "remote_only"
    PHASED_RETURN = "phased_return"
    BACK_IN_SCHOOL = "back_in_school"
    AFTER_CARE = "after_care"
    CLOSED = "closed"

    @property
    def step(self) -> int:
        """The phase's position (0 for remote only .. 4 for closed)."""
        return list(Phase).index(self)


class Goal(enum.StrEnum):
    """Where the plan leads."""

    HOME_SCHOOL = "home_school"
    ANOTHER_SCHOOL = "another_school"
    SPECIAL_SCHOOL = "special_school"


class Outcome(enum.StrEnum):
    """How a closed plan ended."""

    RETURNED_SUSTAINED = "returned_sustained"
    RETURNED_REREFERRED = "returned_rereferred"
    MOVED_SETTING = "moved_setting"


class Rating(enum.StrEnum):
    """A readiness factor's rating at one review."""

    NOT_YET = "not_yet"
    PARTLY = "partly"
    YES = "yes"

    @property
    def score(self) -> int:
        """0, 1 or 2: used only to say whether a rating went up or down."""
        return list(Rating).index(self)


DEFAULT_FACTORS: tuple[tuple[str, str], ...] = (
    ("child", "Understands the reintegration process"),
    ("child", "Positive self-esteem"),
    ("child", "Actively engaged in the process"),
    ("child", "Wants to be successful"),
    ("child", "Reflective"),
    ("parent_carer", "Understands the process"),
    ("parent_carer", "Takes responsibility and ownership"),
    ("parent_carer", "Positive and supportive"),
    ("parent_carer", "Realistic views and hopes"),
    ("systemic", "Timely and individualised approach"),
    ("systemic", "Clear, regular and honest communication"),
    ("systemic", "Continued support offered to the school"),
    ("systemic", "Child-centred support package"),
    ("systemic", "Clear roles and boundaries"),
)
"""The readiness factors a provider starts with (group, label); each provider may edit its own."""


@dataclass(frozen=True, slots=True)
class SchoolDays:
    """In a phased return: the weekdays (Monday 0) and the lessons (lesson keys) spent in school."""

    weekdays: frozenset[int] = frozenset()
    lessons: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.weekdays <= frozenset(range(7)):
            raise InvalidInput("Weekdays in school must be 0 (Monday) to 6 (Sunday).")

    @property
    def empty(self) -> bool:
        """No day and no lesson chosen."""
        return not self.weekdays and not self.lessons


@dataclass(frozen=True, slots=True)
class PhaseChange:
    """A checked change of phase, ready to be applied and put on the plan's history."""

    from_phase: Phase
    to_phase: Phase
    reason: str
    outcome: Outcome | None
    school_days: SchoolDays | None

    @property
    def irregular(self) -> bool:
        """A skip forward or a step back (these need a reason)."""
        return self.to_phase.step != self.from_phase.step + 1


def check_phase_change(
    current: Phase,
    target: Phase,
    *,
    reason: str = "",
    outcome: Outcome | None = None,
    school_days: SchoolDays | None = None,
) -> PhaseChange:
    """Check moving a plan from ``current`` to ``target``.

    One step forward needs nothing more; a skip or a step back needs a
    ``reason``; closing needs an ``outcome`` (and only closing takes one); a
    phased return needs at least one day or lesson in school. A closed plan
    does not change (start a new one). Raises ``Conflict`` or ``InvalidInput``.
    """
    reason = reason.strip()
    if current is Phase.CLOSED:
        raise Conflict("This plan is closed; start a new plan for a new placement.")
    if target is current:
        raise Conflict(f"The plan is already in the phase {target.value!r}.")
    change = PhaseChange(current, target, reason, outcome, school_days)
    if change.irregular and not reason:
        kind = "goes back" if target.step < current.step else "skips a phase"
        raise InvalidInput(
            f"Moving from {current.value} to {target.value} {kind}: give a reason.",
            errors=[{"field": "reason", "message": "A reason is needed", "type": "missing"}],
        )
    if (target is Phase.CLOSED) != (outcome is not None):
        raise InvalidInput(
            "Closing a plan needs an outcome, and only closing takes one.",
            errors=[{"field": "outcome", "message": "Outcome only when closing", "type": "value"}],
        )
    if target is Phase.PHASED_RETURN and (school_days is None or school_days.empty):
        raise InvalidInput(
            "A phased return needs at least one weekday or lesson in school.",
            errors=[
                {"field": "school_days", "message": "Choose days or lessons", "type": "missing"}
            ],
        )
    return change


def in_school(phase: Phase, days: SchoolDays, day: date, lesson_key: str = "") -> bool:
    """Whether the pupil is in school (not remote) for this lesson on ``day``.

    Remote only: never. Phased return: on the chosen weekdays and in the chosen
    lessons. Back in school and after-care: always. A closed plan no longer
    decides anything (False): bookings follow the timetable again.
    """
    if phase is Phase.PHASED_RETURN:
        return day.weekday() in days.weekdays or (bool(lesson_key) and lesson_key in days.lessons)
    return phase in {Phase.BACK_IN_SCHOOL, Phase.AFTER_CARE}


@dataclass(frozen=True, slots=True)
class ReviewDue:
    """A planned review date not yet met by a held review."""

    on: date
    overdue: bool


def review_dues(
    planned: Iterable[date], held: Iterable[date], today: date, *, remind_days: int
) -> list[ReviewDue]:
    """Planned review dates that need telling about today: due within ``remind_days`` or past.

    Each held review meets at most one planned date: the earliest unmet one
    whose window it falls in (held after the previous planned date), so one
    late review does not also meet the next date.
    """
    dates = sorted(set(planned))
    unmet = list(dates)
    for when in sorted(held):
        for i, on in enumerate(unmet):
            before = dates[dates.index(on) - 1] if dates.index(on) > 0 else date.min
            if when > before:
                del unmet[i]
                break
    horizon = today + timedelta(days=remind_days)
    return [ReviewDue(on, on < today) for on in unmet if on <= horizon]


def contact_overdue(last_contact: date | None, started: date, today: date, *, days: int) -> bool:
    """True when there has been no contact with the home school for ``days`` days.

    Counted from the last contact, or from the plan's start when there was none.
    """
    since = last_contact or started
    return (today - since).days >= days


@dataclass(frozen=True, slots=True)
class RatingMove:
    """How one factor's rating moved since the previous review."""

    factor_id: str
    before: Rating | None
    now: Rating | None

    @property
    def direction(self) -> str:
        """``up``, ``down``, ``same``, ``new`` (not rated before) or ``unrated`` (not rated now)."""
        if self.now is None:
            return "unrated"
        if self.before is None:
            return "new"
        if self.now.score > self.before.score:
            return "up"
        return "down" if self.now.score < self.before.score else "same"


def rating_moves(
    factor_ids: Sequence[str],
    previous: Mapping[str, Rating],
    current: Mapping[str, Rating],
) -> list[RatingMove]:
    """Each factor's rating before and now, in the order of ``factor_ids``."""
    return [RatingMove(f, previous.get(f), current.get(f)) for f in factor_ids]


@dataclass(frozen=True, slots=True)
class Figures:
    """A pupil's lessons between two dates: booked, and how the completed ones went."""

    since: date
    until: date
    booked: int
    attended: int
    partial: int
    missed: int
    source: str
    minutes: int | None = None


def bookings_in_school(
    phase: Phase, days: SchoolDays, bookings: Iterable[tuple[str, date, str]]
) -> list[str]:
    """Ids of the bookings ``(id, local date, lesson key)`` that fall in time spent in school.

    These are no longer remote lessons: the plan cancels them, so the rota no
    longer moves the robot for them.
    """
    return [bid for bid, day, key in bookings if in_school(phase, days, day, key)]


def weekdays_in_school(phase: Phase, days: SchoolDays) -> frozenset[int]:
    """The weekdays on which no remote lesson may be booked (every day once back in school)."""
    if phase is Phase.PHASED_RETURN:
        return days.weekdays
    if phase in {Phase.BACK_IN_SCHOOL, Phase.AFTER_CARE}:
        return frozenset(range(7))
    return frozenset()
