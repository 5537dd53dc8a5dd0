"""What reviewing a plan needs from other packages, as small protocols."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.reintegration.domain import Figures

__all__ = ["EngagementFigures"]


class EngagementFigures(Protocol):
    """A pupil's engagement between two dates (inclusive), for the review page.

    ``engagement.OutcomeFigures`` implements it over the engagement package's
    stored outcomes (the default); another source can be installed as
    ``app[records_web.ENGAGEMENT]``.
    """

    async def between(
        self, session: AsyncSession, pupil_id: str, since: date, until: date
    ) -> Figures: ...
