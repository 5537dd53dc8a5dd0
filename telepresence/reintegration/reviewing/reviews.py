"""Readiness factors (per provider) and reviews: ratings, decisions, how ratings moved."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.platform.errors import Conflict, InvalidInput, NotFound
from telepresence.platform.security.identity import Principal
from telepresence.reintegration.access import readable_plan, require_key_worker
from telepresence.reintegration.domain import DEFAULT_FACTORS, Phase, Rating, rating_moves
from telepresence.reintegration.models import FactorRow, PlanRow, RatingRow, ReviewRow
from telepresence.reintegration.reviewing.engagement import OutcomeFigures
from telepresence.reintegration.reviewing.ports import EngagementFigures
from telepresence.reintegration.schemas import (
    EngagementOut,
    FactorIn,
    FactorPatch,
    RatingOut,
    ReviewIn,
    ReviewOut,
)
from telepresence.reintegration.services import add_event

__all__ = [
    "add_factor",
    "factors_of",
    "get_review",
    "record_review",
    "review_out",
    "reviews_of",
    "update_factor",
]


async def factors_of(
    session: AsyncSession, provider_id: str, *, include_retired: bool = False
) -> list[FactorRow]:
    """The provider's readiness factors, in order; the starting list is added on first use."""
    query = select(FactorRow).where(FactorRow.provider_id == provider_id)
    rows = list(await session.scalars(query.order_by(FactorRow.position)))
    if not rows:
        rows = [
            FactorRow(provider_id=provider_id, group=group, label=label, position=i)
            for i, (group, label) in enumerate(DEFAULT_FACTORS)
        ]
        session.add_all(rows)
        await session.flush()
    return [r for r in rows if include_retired or not r.retired]


async def add_factor(session: AsyncSession, who: Principal, data: FactorIn) -> FactorRow:
    """A new factor at the end of the provider's list."""
    assert who.provider_id is not None
    rows = await factors_of(session, who.provider_id, include_retired=True)
    if any(r.label.lower() == data.label.lower() and r.group == data.group for r in rows):
        raise Conflict(f"There is already a factor {data.label!r} in that group.")
    row = FactorRow(
        provider_id=who.provider_id,
        group=data.group,
        label=data.label,
        position=max((r.position for r in rows), default=-1) + 1,
    )
    session.add(row)
    await session.flush()
    return row


async def update_factor(
    session: AsyncSession, who: Principal, factor_id: str, data: FactorPatch
) -> FactorRow:
    """Rename or retire a factor of the caller's provider."""
    row = await session.get(FactorRow, factor_id)
    if row is None or row.provider_id != who.provider_id:
        raise NotFound(f"There is no factor {factor_id!r}.")
    if data.label is None and data.retired is None:
        raise InvalidInput("Nothing to change.")
    if data.label is not None:
        row.label = data.label
    if data.retired is not None:
        row.retired = data.retired
    return row


async def record_review(
    session: AsyncSession, who: Principal, plan_id: str, data: ReviewIn, now: datetime
) -> ReviewRow:
    """A review by the plan's key worker; every factor rated must be a current one of the provider.

    Raises ``InvalidInput`` for an unknown, retired or repeated factor or a
    review dated in the future, ``Conflict`` on a closed plan.
    """
    plan = await require_key_worker(session, who, plan_id)
    if plan.phase == Phase.CLOSED:
        raise Conflict("This plan is closed.")
    if data.held_on > now.date():
        raise InvalidInput("A review is recorded once it has been held (not in the future).")
    current = {f.id for f in await factors_of(session, plan.provider_id)}
    seen: set[str] = set()
    for i, rating in enumerate(data.ratings):
        if rating.factor_id not in current or rating.factor_id in seen:
            raise InvalidInput(
                "Each rating must name a different current readiness factor.",
                errors=[{"field": f"ratings.{i}.factor_id", "message": "unknown or repeated"}],
            )
        seen.add(rating.factor_id)
    review = ReviewRow(
        plan_id=plan.id,
        held_on=data.held_on,
        decisions=data.decisions,
        recorded_by=who.display_name,
        recorded_at=now,
    )
    session.add(review)
    await session.flush()
    session.add_all(
        RatingRow(review_id=review.id, factor_id=r.factor_id, rating=r.rating.value, note=r.note)
        for r in data.ratings
    )
    yes = sum(1 for r in data.ratings if r.rating is Rating.YES)
    summary = f"Review held {data.held_on:%d %b %Y}: {yes} of {len(data.ratings)} factors ready"
    add_event(session, plan, who, "review", summary, now, details={"review_id": review.id})
    return review


async def reviews_of(session: AsyncSession, plan: PlanRow) -> list[ReviewRow]:
    """The plan's reviews, oldest first."""
    query = select(ReviewRow).where(ReviewRow.plan_id == plan.id)
    return list(await session.scalars(query.order_by(ReviewRow.held_on, ReviewRow.recorded_at)))


async def get_review(session: AsyncSession, who: Principal, review_id: str) -> ReviewRow:
    """A review the caller (staff) may read; ``NotFound`` otherwise."""
    review = await session.get(ReviewRow, review_id)
    if review is None:
        raise NotFound(f"There is no review {review_id!r}.")
    await readable_plan(session, who, review.plan_id)
    return review


async def _ratings(session: AsyncSession, review_id: str) -> dict[str, RatingRow]:
    rows = await session.scalars(select(RatingRow).where(RatingRow.review_id == review_id))
    return {r.factor_id: r for r in rows}


async def review_out(
    session: AsyncSession, review: ReviewRow, engagement: EngagementFigures | None
) -> ReviewOut:
    """The review with each factor's rating beside the previous review's, and engagement since."""
    plan = await session.get(PlanRow, review.plan_id)
    assert plan is not None
    earlier = [r for r in await reviews_of(session, plan) if r.held_on < review.held_on]
    previous = earlier[-1] if earlier else None
    now_rows = await _ratings(session, review.id)
    before_rows = await _ratings(session, previous.id) if previous else {}
    factors = {f.id: f for f in await factors_of(session, plan.provider_id, include_retired=True)}
    order = [f for f in factors if f in now_rows or f in before_rows]
    moves = rating_moves(
        order,
        {k: Rating(v.rating) for k, v in before_rows.items()},
        {k: Rating(v.rating) for k, v in now_rows.items()},
    )
    ratings = [
        RatingOut(
            factor_id=m.factor_id,
            group=factors[m.factor_id].group,
            label=factors[m.factor_id].label,
            rating=m.now,
            note=now_rows[m.factor_id].note if m.factor_id in now_rows else "",
            before=m.before,
            direction=m.direction,
        )
        for m in moves
    ]
    since = previous.held_on if previous else plan.starts_on
    source = engagement or OutcomeFigures()
    figures = await source.between(session, plan.pupil_id, since, review.held_on)
    return ReviewOut(
        id=review.id,
        plan_id=plan.id,
        held_on=review.held_on,
        decisions=review.decisions,
        recorded_by=review.recorded_by,
        previous_review_id=previous.id if previous else None,
        ratings=ratings,
        engagement=EngagementOut(
            since=figures.since,
            until=figures.until,
            booked=figures.booked,
            attended=figures.attended,
            partial=figures.partial,
            missed=figures.missed,
            source=figures.source,
            minutes=figures.minutes,
        ),
    )
