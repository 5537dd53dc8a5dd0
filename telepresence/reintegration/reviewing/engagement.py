"""Engagement figures for reviews, from the engagement package's stored outcomes."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.engagement.figures import Scope, counts_by
from telepresence.engagement.models import OutcomeRow
from telepresence.platform.models import Pupil
from telepresence.reintegration.domain import Figures

__all__ = ["OutcomeFigures"]


class OutcomeFigures:
    """The ``EngagementFigures`` port over ``engagement_outcomes`` (one row per finished booking).

    Outcomes are stored a couple of minutes after a lesson ends, so a lesson
    that ended moments before the review may not be counted yet.
    """

    async def between(
        self, session: AsyncSession, pupil_id: str, since: date, until: date
    ) -> Figures:
        """The pupil's lessons dated ``since`` .. ``until`` inclusive (cancelled ones left out)."""
        pupil = await session.get(Pupil, pupil_id)
        found = []
        if pupil is not None:
            scope = Scope(pupil.provider_id, since, until, pupil_ids=frozenset({pupil_id}))
            found = await counts_by(session, scope, OutcomeRow.pupil_id)
        counts = found[0] if found else None
        return Figures(
            since=since,
            until=until,
            booked=counts.booked if counts else 0,
            attended=counts.attended if counts else 0,
            partial=counts.partial if counts else 0,
            missed=counts.missed if counts else 0,
            source="engagement",
            minutes=counts.minutes if counts else 0,
        )
