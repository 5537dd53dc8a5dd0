"""Data versions the database keeps: a number per pupil and per school that any change of
what a pupil's week is computed from raises, whoever makes it.

A feature names its tables (``versioned(LessonRow, "pupil")``): each change of a
row (insert, update, delete; also bulk statements, imports, hand-written SQL, another
instance) raises ``pupil_versions.version`` of the row's ``pupil_id`` (old and new), or
``school_versions.version`` of its ``school_id``, in the same transaction. So an answer
computed from data read no earlier than version ``v`` is current while the version is
still ``v``; no code path can forget to say it changed something.

On PostgreSQL the triggers are deferred to the commit (constraint triggers): a version's
row is locked for the last moment of a transaction only, after all its other work, so
it never takes part in the lock order of the rows a use case locks first (a pupil's row,
a booking's). SQLite has one writer at a time. A pupil or school with no row yet is at
version 0. Created with the tables by ``metadata.create_all`` (tests, a new database) and
by migration 0023 (the SQL frozen there).
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import DDL, BigInteger, String, event
from sqlalchemy.orm import Mapped, mapped_column

from telepresence.platform.database import Base

__all__ = ["Owner", "PupilVersion", "SchoolVersion", "trigger_ddl", "versioned"]

Owner = Literal["pupil", "school"]


class PupilVersion(Base):
    """How often what a pupil's week is computed from (lessons, bookings, unavailability,
    lesson outcomes) has changed. No foreign key: a cascade deleting a pupil's rows bumps it."""

    __tablename__ = "pupil_versions"

    pupil_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class SchoolVersion(Base):
    """How often a school's calendar (settings, terms, closures, A/B weeks, bells) changed."""

    __tablename__ = "school_versions"

    school_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


def _bump(owner: Owner, row: str) -> str:
    return (
        f"INSERT INTO {owner}_versions ({owner}_id, version) VALUES ({row}.{owner}_id, 1)"  # noqa: S608
        f" ON CONFLICT ({owner}_id) DO UPDATE SET version = {owner}_versions.version + 1"
    )


def trigger_ddl(table: str, owner: Owner, dialect_name: str) -> list[str]:
    """The statements that make every change of ``table`` raise its owner's version."""
    name = f"trg_{table}_{owner}_version"
    if dialect_name == "postgresql":
        function = f"bump_{owner}_version"
        return [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n"
            f"    IF TG_OP <> 'INSERT' THEN {_bump(owner, 'OLD')}; END IF;\n"
            f"    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE'"
            f" AND NEW.{owner}_id IS DISTINCT FROM OLD.{owner}_id) THEN\n"
            f"        {_bump(owner, 'NEW')};\n"
            f"    END IF;\n"
            f"    RETURN NULL;\n"
            f"END $$",
            f"DROP TRIGGER IF EXISTS {name} ON {table}",
            f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {table}"
            f" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {function}()",
        ]
    statements = []
    for op, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
        body = "".join(f"    {_bump(owner, row)};\n" for row in rows)
        statements += [
            f"DROP TRIGGER IF EXISTS {name}_{op.lower()}",
            f"CREATE TRIGGER {name}_{op.lower()} AFTER {op} ON {table} FOR EACH ROW\n"
            f"BEGIN\n{body}END",
        ]
    return statements


def versioned(model: type[Base], owner: Owner) -> None:
    """Create the version triggers of ``model``'s table with it (``metadata.create_all``)."""
    for dialect_name in ("postgresql", "sqlite"):
        for statement in trigger_ddl(model.__tablename__, owner, dialect_name):
            event.listen(
                model.__table__,
                "after_create",
                DDL(statement.replace("%", "%%")).execute_if(  # type: ignore[no-untyped-call]
                    dialect=dialect_name
                ),
            )
