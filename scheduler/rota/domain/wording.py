"""What the rota tells people at a glance: clock times, change lists, walks too short (pure).

Nothing here reads a clock or a database: ``now`` and the school's zone are
parameters, so the phone page, the staff page and their tests say the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "CANT_REASONS",
    "EARLY_DONE",
    "NEAR",
    "UNDO_WITHIN",
    "ChangeNote",
    "HelperDay",
    "cant_reason",
    "done_too_early",
    "fold_changes",
    "in_minutes",
    "undo_open",
    "walk_shortfall",
    "who_else",
]

NEAR = timedelta(minutes=60)
"""Closer than this, a move also says "in 25 min"; further, only its clock time."""
EARLY_DONE = timedelta(minutes=30)
""""Done" this long before a move's window opens asks "are you sure?" first."""
UNDO_WITHIN = timedelta(minutes=5)
"""How long after "Done" it can be taken back."""
CANT_REASONS = {
    "teaching": "Teaching a class then",
    "off_site": "Not on site",
    "not_found": "Robot not found",
    "other": "Other",
}
"""The quick reasons of "Can't do it", by the value the form sends."""

GAINED = ("new for you", "given to you by staff")
LOST = ("no longer yours", "given to someone else", "you can't", "no longer needed")


def in_minutes(due: datetime, now: datetime) -> str | None:
    """ "in 25 min" (or "now") when ``due`` is within ``NEAR`` ahead; ``None`` otherwise."""
    left = due - now
    if left < timedelta() or left > NEAR:
        return None
    minutes = int(left.total_seconds() // 60)
    return "now" if minutes == 0 else f"in {minutes} min"


def done_too_early(earliest: datetime, now: datetime) -> bool:
    """Whether "Done" now is far ahead of the move's window (more than ``EARLY_DONE``)."""
    return now < earliest - EARLY_DONE


def undo_open(confirmed_at: datetime | None, now: datetime) -> bool:
    """Whether a "Done" made at ``confirmed_at`` may still be taken back at ``now``."""
    return confirmed_at is not None and confirmed_at <= now < confirmed_at + UNDO_WITHIN


def cant_reason(choice: str, text: str) -> str:
    """The reason to record from a quick choice and free text ("Teaching a class then: Y7").

    ``choice`` is a key of ``CANT_REASONS`` or empty; ``other`` (or none) keeps only the
    text. Raises ``ValueError`` for an unknown choice or when nothing at all is said.
    """
    text = " ".join(text.split())
    if choice and choice not in CANT_REASONS:
        raise ValueError("unknown reason")
    if choice and choice != "other":
        label = CANT_REASONS[choice]
        return f"{label}: {text}" if text else label
    if len(text) < 2:
        raise ValueError("say why")
    return text


@dataclass(frozen=True, slots=True)
class ChangeNote:
    """One change to an assistant's rota: when, which move, what (``"no longer yours: …"``)."""

    at: datetime
    move_id: str
    text: str
    device: str | None = None  # the robot's name, when known


def _side(text: str) -> int:
    if text.startswith(GAINED):
        return 1
    if text.startswith(LOST):
        return -1
    return 0


def fold_changes(notes: Sequence[ChangeNote], zone: ZoneInfo) -> list[str]:
    """One line per move, in time order: "10:02 · Robbie: no longer yours: S12 → Lab 3 by 10:05".

    A move given and taken away again since the last look (or the other way
    round) is left out: it was not theirs then and is not now (or was and
    still is), so telling both halves would only contradict itself. Of the
    rest, each move's latest note stands.
    """
    by_move: dict[str, list[ChangeNote]] = {}
    for note in sorted(notes, key=lambda n: n.at):
        by_move.setdefault(note.move_id, []).append(note)
    kept: list[ChangeNote] = []
    for said in by_move.values():
        first, last = _side(said[0].text), _side(said[-1].text)
        if first and last and first == -last:
            continue
        kept.append(said[-1])
    kept.sort(key=lambda n: n.at)
    return [
        f"{n.at.astimezone(zone):%H:%M} · {n.device + ': ' if n.device else ''}{n.text}"
        for n in kept
    ]


def walk_shortfall(earliest: datetime, due: datetime, carry: timedelta) -> timedelta:
    """How much longer than its window a move takes (zero when it fits).

    ``carry`` is the walk between its rooms plus handling the device.
    """
    return max(timedelta(), earliest + carry - due)


@dataclass(frozen=True, slots=True)
class HelperDay:
    """An assistant as a possible stand-in for one move: away, duty, their own moves' times."""

    name: str
    absent: bool
    duty: tuple[tuple[datetime, datetime], ...]  # working stretches of the day
    busy: tuple[tuple[datetime, datetime], ...]  # their own moves: set off, done
    at_cap: bool = False


def _clock(instant: datetime, zone: ZoneInfo) -> str:
    return f"{instant.astimezone(zone):%H:%M}"


def _late(minutes: int) -> str:
    return "in time" if minutes <= 0 else f"about {minutes} min late"


def who_else(
    earliest: datetime,
    due: datetime,
    carry: timedelta,
    helpers: Sequence[HelperDay],
    zone: ZoneInfo,
) -> list[str]:
    """What it would cost each of ``helpers`` to do a move nobody has, cheapest first.

    On duty and free: "in time" (or how late, for a window shorter than the
    carrying); on duty but busy: how late, after their own moves; off duty or
    on a break: how far past (or before) their working hours it takes them;
    away: said last. Estimates: the walk to the move's first room is not counted.
    """
    ranked: list[tuple[int, str]] = []
    for h in helpers:
        if h.absent:
            ranked.append((10**6, f"{h.name}: away today"))
            continue
        until = max(due, earliest + carry)  # the soonest the carrying can be over
        covering = [(s, e) for s, e in h.duty if s <= earliest and until <= e]
        if covering and not h.at_cap:
            free = max([earliest, *(done for go, done in h.busy if go < due and done > earliest)])
            late = int((free + carry - due).total_seconds() // 60)
            clash = free > earliest
            said = f"busy until {_clock(free, zone)}, " if clash else "free, "
            ranked.append((max(0, late), f"{h.name}: on duty, {said}{_late(late)}"))
            continue
        if covering:
            ranked.append((10**5, f"{h.name}: on duty but at their daily limit of moves"))
            continue
        if not h.duty:
            ranked.append((10**4, f"{h.name}: not on duty that day"))
            continue
        beyond = min(_outside(s, e, earliest, until) for s, e in h.duty)
        hours = ", ".join(f"{_clock(s, zone)} to {_clock(e, zone)}" for s, e in h.duty)
        minutes = int(beyond.total_seconds() // 60) or 1
        said = f"off duty or on a break then (working {hours}), {minutes} min extra"
        ranked.append((1000 + minutes, f"{h.name}: {said}"))
    return [line for _, line in sorted(ranked, key=lambda r: r[0])]


def _outside(
    start: datetime, end: datetime, needed_from: datetime, needed_to: datetime
) -> timedelta:
    """How far a job from ``needed_from`` to ``needed_to`` falls outside a duty stretch."""
    before = max(timedelta(), start - needed_from)
    after = max(timedelta(), needed_to - end)
    return before + after
