"""The rollups of the outcomes, kept in step with ``engagement_outcomes`` in the same transaction.

Two tables sum the outcomes as the dashboard groups them, so it reads a sixth of
the rows (a term of 2,000 pupils: 26,000 pupil-weeks against 150,000 outcomes):

- ``engagement_weekly``: per pupil, school week, school and robot;
- ``engagement_subject_weeks``: per school, school week and subject.

Each row is the ``GROUP BY`` of the outcomes of its group, never anything else,
so it can always be recomputed from them. How they stay so:

- the outcome upsert (``outcomes.compute_outcomes``, the only code that writes
  outcomes: the two-minute job, the nightly recompute, the demo) calls
  ``refresh`` for the pupils, schools and weeks it touched, before and after
  (an outcome that moved to another week leaves its old week recomputed too):
  one ``DELETE`` and one ``INSERT ... SELECT ... GROUP BY`` per table;
- a delete of outcomes (a booking or a pupil deleted cascades to them) fires
  the trigger ``trg_engagement_outcomes_rollup``, which recomputes the deleted
  outcome's pupil-week and school-week the same way (``trigger_ddl``, on
  SQLite and PostgreSQL; created with the tables by ``metadata.create_all`` and
  by migration 0022).

Each row also keeps the first and last lesson date it sums, so a reader knows
whether the row lies wholly inside a date range or must be read from the
outcomes instead (``figures.breakdown``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    DDL,
    ColumnElement,
    Delete,
    Insert,
    Table,
    case,
    delete,
    event,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from telepresence.engagement.models import OutcomeRow, SubjectWeekRow, WeeklyRow

__all__ = ["ROLLUPS", "Rollup", "refresh", "sums", "trigger_ddl"]

Out = OutcomeRow
TRIGGER = "trg_engagement_outcomes_rollup"
FUNCTION = "engagement_outcomes_rollup"
KEYS_PER_STATEMENT = 1000


def sums() -> list[ColumnElement[Any]]:
    """The summed columns of a rollup row, labelled as its columns, over ``engagement_outcomes``
    (the same sums as ``figures.Counts``)."""
    live = Out.outcome != "cancelled"

    def count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((condition, 1), else_=0))

    return [
        count(live).label("booked"),
        count(Out.present_seconds > 0).label("joined"),
        count(Out.outcome == "attended").label("attended"),
        count(Out.outcome == "partial").label("partial"),
        count(Out.outcome == "missed").label("missed"),
        count(Out.outcome == "cancelled").label("cancelled"),
        func.sum(Out.present_seconds).label("present_seconds"),
        func.sum(case((live, Out.booked_seconds), else_=0)).label("booked_seconds"),
        func.min(Out.lesson_date).label("first_lesson"),
        func.max(Out.lesson_date).label("last_lesson"),
    ]


@dataclass(frozen=True, slots=True)
class Rollup:
    """One rollup table: the outcome columns it groups by, and the one (besides the week) a
    refresh recomputes by."""

    table: Table
    group: tuple[str, ...]
    by: str  # pupil_id or school_id
    last_present: str | None = None  # a column of the last lesson date the pupil was present

    def select(self, *where: ColumnElement[bool]) -> Any:
        """The rollup's rows as a ``GROUP BY`` of the outcomes that match ``where``."""
        columns: list[ColumnElement[Any]] = [getattr(Out, c) for c in self.group]
        extra = [
            func.max(case((Out.present_seconds > 0, Out.lesson_date))).label(name)
            for name in [self.last_present]
            if name
        ]
        return (
            select(*columns, *sums(), *extra)
            .where(*where)
            .group_by(*[getattr(Out, c) for c in self.group])
        )

    def names(self) -> list[str]:
        """The rollup's columns in the order ``select`` gives them."""
        return [*self.group, *(c.name for c in sums()), *[n for n in [self.last_present] if n]]

    def insert(self, *where: ColumnElement[bool]) -> Insert:
        """``INSERT INTO rollup SELECT ... GROUP BY`` of the outcomes that match ``where``."""
        return insert(self.table).from_select(self.names(), self.select(*where))

    def delete(self, *where: ColumnElement[bool]) -> Delete:
        """``DELETE FROM rollup WHERE ...``."""
        return delete(self.table).where(*where)


WEEKLY = Rollup(
    WeeklyRow.__table__,  # type: ignore[arg-type]
    ("pupil_id", "week_monday", "school_id", "device_id", "provider_id"),
    "pupil_id",
    "last_present",
)
SUBJECTS = Rollup(
    SubjectWeekRow.__table__,  # type: ignore[arg-type]
    ("school_id", "week_monday", "subject", "provider_id"),
    "school_id",
)
ROLLUPS = (WEEKLY, SUBJECTS)


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), KEYS_PER_STATEMENT):
        yield ordered[start : start + KEYS_PER_STATEMENT]


async def refresh(
    db: AsyncSession,
    pupil_ids: Collection[str],
    school_ids: Collection[str],
    mondays: Collection[date],
) -> None:
    """Recompute the rollups' rows of these pupils' (and schools') weeks from the outcomes:
    every pupil-week of ``pupil_ids`` x ``mondays`` and school-week of ``school_ids`` x
    ``mondays`` (a few more than changed at most; recomputing an unchanged row gives it
    again). Run in the transaction that wrote the outcomes."""
    if not mondays:
        return
    weeks = sorted(set(mondays))
    # The lesson dates bound the weeks, so the outcomes' (pupil|school, date) indexes serve.
    dates = (Out.lesson_date >= weeks[0], Out.lesson_date <= weeks[-1] + timedelta(days=6))
    for rollup, keys in ((WEEKLY, pupil_ids), (SUBJECTS, school_ids)):
        mine = rollup.table.c
        for chunk in _chunks(keys):
            await db.execute(rollup.delete(mine[rollup.by].in_(chunk), mine.week_monday.in_(weeks)))
            await db.execute(
                rollup.insert(
                    getattr(Out, rollup.by).in_(chunk), Out.week_monday.in_(weeks), *dates
                )
            )


def _recompute_old(rollup: Rollup, dialect: Any) -> list[str]:
    """The two statements that recompute the deleted outcome's (``OLD``) row, as SQL text."""
    old_by: ColumnElement[Any] = literal_column(f"OLD.{rollup.by}")
    old_week: ColumnElement[Any] = literal_column("OLD.week_monday")
    mine = rollup.table.c
    statements = [
        rollup.delete(mine[rollup.by] == old_by, mine.week_monday == old_week),
        rollup.insert(getattr(Out, rollup.by) == old_by, Out.week_monday == old_week),
    ]
    return [
        str(s.compile(dialect=dialect, compile_kwargs={"literal_binds": True})) for s in statements
    ]


def trigger_ddl(dialect_name: str) -> list[str]:
    """The statements that create the delete trigger keeping the rollups (idempotent)."""
    if dialect_name == "postgresql":
        pg = postgresql.dialect()  # type: ignore[no-untyped-call]
        body = ";\n    ".join(s for r in ROLLUPS for s in _recompute_old(r, pg))
        return [
            f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n    {body};\n    RETURN NULL;\nEND $$",
            f"DROP TRIGGER IF EXISTS {TRIGGER} ON engagement_outcomes",
            f"CREATE TRIGGER {TRIGGER} AFTER DELETE ON engagement_outcomes FOR EACH ROW"
            f" EXECUTE FUNCTION {FUNCTION}()",
        ]
    lite = sqlite.dialect()
    body = ";\n    ".join(s for r in ROLLUPS for s in _recompute_old(r, lite))
    return [
        f"DROP TRIGGER IF EXISTS {TRIGGER}",
        f"CREATE TRIGGER {TRIGGER} AFTER DELETE ON engagement_outcomes FOR EACH ROW\n"
        f"BEGIN\n    {body};\nEND",
    ]


def _attach(statements: Sequence[str], dialect_name: str) -> None:
    for statement in statements:
        event.listen(
            OutcomeRow.__table__,
            "after_create",
            DDL(statement.replace("%", "%%")).execute_if(  # type: ignore[no-untyped-call]
                dialect=dialect_name
            ),
        )


# ``metadata.create_all`` (tests, ``classbridge`` on a new database) creates the trigger with
# the outcomes' table; migration 0022 creates it on a migrated database.
_attach(trigger_ddl("postgresql"), "postgresql")
_attach(trigger_ddl("sqlite"), "sqlite")
