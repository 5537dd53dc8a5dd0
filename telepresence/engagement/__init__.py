"""Engagement: what each lesson gave the pupil, who is drifting, and evidence for the home school.

``domain`` computes a booking's usage and outcome from its session timeline
(pure); ``disengagement.rules`` are the disengagement rules (pure); ``outcomes``,
``figures``, ``disengagement.signals`` and ``disengagement.alerts`` store and
aggregate them (SQL);
``jobs`` run them on the leader; ``web`` and ``exports`` serve them.
"""

from telepresence.engagement.disengagement.rules import RuleName, evaluate
from telepresence.engagement.domain import Outcome, lesson_outcome

__all__ = ["Outcome", "RuleName", "evaluate", "lesson_outcome"]
