"""Posted forms turned into the API's request models (so pages and API check input alike)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from telepresence.platform.errors import InvalidInput
from telepresence.reintegration.schemas import (
    ActionIn,
    ContactIn,
    NoteIn,
    PhaseIn,
    PlanIn,
    RatingIn,
    ReviewIn,
    VisitIn,
)

__all__ = ["contact_from", "note_from", "phase_from", "plan_from", "review_from", "visit_from"]

MAX_ACTION_ROWS = 3


def _day(text: str, label: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{label}: give a date (YYYY-MM-DD).") from None


def _clock(text: str, label: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{label}: give a time (HH:MM).") from None


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s,;]+", text) if w]


def plan_from(pupil_id: str, form: dict[str, str]) -> PlanIn:
    """A new plan from the start form (review dates separated by commas or spaces)."""
    return PlanIn.model_validate(
        {
            "pupil_id": pupil_id,
            "goal": form.get("goal", ""),
            "goal_detail": form.get("goal_detail", ""),
            "starts_on": form.get("starts_on", ""),
            "expected_weeks": form.get("expected_weeks", ""),
            "review_dates": [_day(d, "Review dates") for d in _words(form.get("review_dates", ""))],
        }
    )


def phase_from(form: dict[str, str]) -> PhaseIn:
    """A phase change; weekdays come as ``weekday_0`` .. ``weekday_4`` checkboxes."""
    return PhaseIn.model_validate(
        {
            "phase": form.get("phase", ""),
            "reason": form.get("reason", ""),
            "outcome": form.get("outcome") or None,
            "school_weekdays": [d for d in range(7) if form.get(f"weekday_{d}")],
            "school_lessons": _words(form.get("lessons", "")),
        }
    )


def review_from(form: dict[str, str]) -> ReviewIn:
    """A review; each factor's rating comes as ``rating_<id>`` and its note as ``note_<id>``."""
    ratings = [
        RatingIn(factor_id=key[7:], rating=value, note=form.get(f"note_{key[7:]}", ""))
        for key, value in form.items()
        if key.startswith("rating_") and value
    ]
    if not ratings:
        raise InvalidInput("Rate at least one readiness factor.")
    return ReviewIn(
        held_on=_day(form.get("held_on", ""), "Held on"),
        decisions=form.get("decisions", ""),
        ratings=ratings,
    )


def contact_from(form: dict[str, str]) -> ContactIn:
    """A contact with up to three agreed actions (``action_text_<n>``, assignee, due date)."""
    actions = []
    for n in range(1, MAX_ACTION_ROWS + 1):
        text = form.get(f"action_text_{n}", "").strip()
        if text:
            due = form.get(f"action_due_{n}", "")
            actions.append(
                ActionIn.model_validate(
                    {
                        "text": text,
                        "assignee": form.get(f"action_assignee_{n}", ""),
                        "due_on": _day(due, "Due") if due else None,
                    }
                )
            )
    return ContactIn.model_validate(
        {
            "happened_on": form.get("happened_on", ""),
            "party": form.get("party", ""),
            "people": form.get("people", ""),
            "channel": form.get("channel", ""),
            "summary": form.get("summary", ""),
            "shared": form.get("shared") == "on",
            "actions": actions,
        }
    )


def note_from(form: dict[str, str]) -> NoteIn:
    """A note; ``shared`` is a checkbox."""
    return NoteIn(text=form.get("text", ""), shared=form.get("shared") == "on")


def visit_from(form: dict[str, str], zone: ZoneInfo) -> VisitIn:
    """A visit from a local date and start/end times at the school."""
    day = _day(form.get("day", ""), "Day")
    start = datetime.combine(day, _clock(form.get("start", ""), "Start"), tzinfo=zone)
    end = datetime.combine(day, _clock(form.get("end", ""), "End"), tzinfo=zone)
    return VisitIn(starts_at=start, ends_at=end)
