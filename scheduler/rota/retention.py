"""How long the rota keeps what it wrote: the daily purge job.

Moves are the record of who carried which device when (coordinators read
them back over a school year), so they stay ``rota_retention_days``; the
declines of a move go with it. A day's change notes ("what changed since your
last look") and the record that its morning plan ran only matter on that day:
they go after a week.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from scheduler.rota.models import MoveRow, RotaChangeRow, RotaDeclineRow, RotaMorningRow
from telepresence.platform.jobs.runner import JobContext

__all__ = ["DAY_NOTES_KEPT", "purge_old_rota"]

DAY_NOTES_KEPT = timedelta(days=7)


async def purge_old_rota(ctx: JobContext) -> int:
    """Delete moves past ``rota_retention_days`` and day notes past a week; how many rows."""
    today = ctx.clock.now().date()  # UTC: a day either way does not matter at these spans
    moves_before = today - timedelta(days=ctx.settings.rota_retention_days)
    notes_before = today - DAY_NOTES_KEPT
    old_moves = MoveRow.local_date < moves_before
    gone = 0
    async with ctx.database.transaction() as session:
        for statement in (
            delete(RotaDeclineRow).where(
                RotaDeclineRow.move_id.in_(select(MoveRow.id).where(old_moves))
            ),
            delete(MoveRow).where(old_moves),
            delete(RotaChangeRow).where(RotaChangeRow.local_date < notes_before),
            delete(RotaMorningRow).where(RotaMorningRow.local_date < notes_before),
        ):
            result = await session.execute(statement)
            gone += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return gone
