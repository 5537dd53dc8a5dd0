"""Engagement: what each lesson gave the pupil, who is drifting, and evidence for the home school.

``domain`` computes a booking's usage and outcome from its session timeline
(pure); ``rules`` are the disengagement rules (pure); ``outcomes``,
``figures``, ``signals`` and ``alerts`` store and aggregate them (SQL);
``jobs`` run them on the leader; ``web`` and ``exports`` serve them.
"""

from telepresence.engagement.domain import Outcome, lesson_outcome
from telepresence.engagement.rules import RuleName, evaluate

__all__ = ["Outcome", "RuleName", "evaluate", "lesson_outcome"]
