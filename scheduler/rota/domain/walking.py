"""Where rooms are and how long it takes to walk between them (pure, no I/O).

A school sets three walking times, same floor / other floor of the same
building / another building, and may override any pair of rooms it knows to
be nearer or further than the rule says (a footbridge, a locked door). The
rule is symmetric: A to B takes as long as B to A.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

__all__ = ["RoomRef", "WalkingRules", "room_pair"]


@dataclass(frozen=True, slots=True)
class RoomRef:
    """A room as the rota sees it: its id, building and floor (0 is the ground floor)."""

    id: str
    building: str = ""
    floor: int = 0


def room_pair(a: str, b: str) -> frozenset[str]:
    """The key of a per-pair override: unordered, so one entry covers both directions."""
    return frozenset((a, b))


def _no_overrides() -> Mapping[frozenset[str], timedelta]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class WalkingRules:
    """Walking times between rooms, with the same room always zero.

    ``overrides`` maps ``room_pair(a_id, b_id)`` to a time that replaces the
    rule for that pair. Raises ``ValueError`` for a negative time.
    """

    same_floor: timedelta = timedelta(minutes=2)
    same_building: timedelta = timedelta(minutes=4)
    other_building: timedelta = timedelta(minutes=8)
    overrides: Mapping[frozenset[str], timedelta] = field(default_factory=_no_overrides)
    _rule_seconds: tuple[int, int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rule = (self.same_floor, self.same_building, self.other_building)
        object.__setattr__(self, "_rule_seconds", tuple(int(t.total_seconds()) for t in rule))
        times = (self.same_floor, self.same_building, self.other_building, *self.overrides.values())
        if any(t < timedelta() for t in times):
            raise ValueError("walking times cannot be negative")
        if any(len(pair) != 2 for pair in self.overrides):
            raise ValueError("an override names two different rooms")

    def between(self, a: RoomRef, b: RoomRef) -> timedelta:
        """The time to walk from ``a`` to ``b`` (zero when they are the same room)."""
        if a.id == b.id:
            return timedelta()
        if self.overrides:
            override = self.overrides.get(room_pair(a.id, b.id))
            if override is not None:
                return override
        if a.building != b.building:
            return self.other_building
        if a.floor != b.floor:
            return self.same_building
        return self.same_floor

    def rule_seconds(self) -> tuple[int, int, int] | None:
        """Same floor, same building, other building in whole seconds; ``None`` when
        some pair is overridden (then only ``seconds`` knows every pair)."""
        return None if self.overrides else self._rule_seconds

    def seconds(self, a: RoomRef, b: RoomRef) -> int:
        """``between`` in whole seconds, for the solver's integer arithmetic."""
        if a.id == b.id or self.overrides:
            return int(self.between(a, b).total_seconds())
        same_floor, same_building, other_building = self._rule_seconds
        if a.building != b.building:
            return other_building
        return same_building if a.floor != b.floor else same_floor
