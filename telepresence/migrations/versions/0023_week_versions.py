"""data versions of pupils and schools, kept by triggers (a pupil's week served from memory)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 10:15:00.000000

``pupil_versions`` and ``school_versions`` hold a number that every change of a pupil's
lessons, bookings or unavailability, or of a school's calendar (settings, terms,
closures, A/B weeks, bells), raises in the same transaction, through triggers: so no
code path, bulk statement, import or other instance can change what a pupil's week is
computed from without it (``telepresence.platform.versions``). No row means version 0;
nothing to backfill. The SQL is frozen here as ``versions.trigger_ddl`` gave it on the day.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WATCHED = (
    ("lessons", "pupil"),
    ("bookings", "pupil"),
    ("unavailability", "pupil"),
    ("school_calendars", "school"),
    ("school_terms", "school"),
    ("school_closures", "school"),
    ("school_week_overrides", "school"),
    ("school_bell_periods", "school"),
)
OPS = ("insert", "update", "delete")


def _bump(owner: str, row: str) -> str:
    return (
        f"INSERT INTO {owner}_versions ({owner}_id, version) VALUES ({row}.{owner}_id, 1)"  # noqa: S608
        f" ON CONFLICT ({owner}_id) DO UPDATE SET version = {owner}_versions.version + 1"
    )


def _function(owner: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION bump_{owner}_version() RETURNS trigger"
        f" LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n"
        f"    IF TG_OP <> 'INSERT' THEN {_bump(owner, 'OLD')}; END IF;\n"
        f"    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE'"
        f" AND NEW.{owner}_id IS DISTINCT FROM OLD.{owner}_id) THEN\n"
        f"        {_bump(owner, 'NEW')};\n"
        f"    END IF;\n"
        f"    RETURN NULL;\n"
        f"END $$"
    )


def upgrade() -> None:
    for owner in ("pupil", "school"):
        op.create_table(
            f"{owner}_versions",
            sa.Column(f"{owner}_id", sa.String(length=32), nullable=False),
            sa.Column("version", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint(f"{owner}_id", name=op.f(f"pk_{owner}_versions")),
        )
    if op.get_bind().dialect.name == "postgresql":
        for owner in ("pupil", "school"):
            op.execute(_function(owner))
        for table, owner in WATCHED:
            op.execute(
                f"CREATE CONSTRAINT TRIGGER trg_{table}_{owner}_version"
                f" AFTER INSERT OR UPDATE OR DELETE ON {table}"
                f" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
                f" EXECUTE FUNCTION bump_{owner}_version()"
            )
        return
    for table, owner in WATCHED:
        for kind, rows in (("insert", ("NEW",)), ("update", ("OLD", "NEW")), ("delete", ("OLD",))):
            body = "".join(f"    {_bump(owner, row)};\n" for row in rows)
            op.execute(
                f"CREATE TRIGGER trg_{table}_{owner}_version_{kind}"
                f" AFTER {kind.upper()} ON {table} FOR EACH ROW\nBEGIN\n{body}END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, owner in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_{owner}_version ON {table}")
        for owner in ("pupil", "school"):
            op.execute(f"DROP FUNCTION IF EXISTS bump_{owner}_version()")
    else:
        for table, owner in WATCHED:
            for kind in OPS:
                op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_{owner}_version_{kind}")
    op.drop_table("school_versions")
    op.drop_table("pupil_versions")
